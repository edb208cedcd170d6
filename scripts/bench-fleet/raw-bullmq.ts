/** The raw BullMQ reference: what dispatch costs without Loopy, on the same Redis. */
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { BenchFailure, sleep, stats } from "./common.ts";

/** `jobs` jobs added one by one (as the dispatcher does) to a plain Queue; a no-op Worker of the same concurrency. */
export async function rawBullmq(redisUrl: string, prefix: string, jobs: number) {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const producer = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const name = "raw-bench";
  const queue = new Queue(name, { connection, prefix });
  const added: number[] = [];
  const started: number[] = [];
  let all!: () => void;
  const done = new Promise<void>((r) => (all = r));
  let count = 0;
  const worker = new Worker(
    name,
    async (job) => {
      started[job.data.i as number] = Date.now();
      if (++count === jobs) all();
    },
    { connection: producer.duplicate({ maxRetriesPerRequest: null }), prefix, concurrency: jobs },
  );
  await worker.waitUntilReady();
  await sleep(500); // the worker is idle and waiting, as Loopy's is when a fleet is launched
  const first = Date.now();
  for (let i = 0; i < jobs; i++) {
    added[i] = Date.now();
    await queue.add("job", { i }, { jobId: `raw-${i}`, removeOnComplete: true });
  }
  const addsMs = Date.now() - first;
  await Promise.race([
    done,
    sleep(60_000).then(() =>
      Promise.reject(new BenchFailure(`raw BullMQ: only ${count} of ${jobs} jobs started within 60 s`)),
    ),
  ]);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  producer.disconnect();
  return {
    jobs,
    addsMs,
    launchToStart: stats(started.map((s) => s - first)),
    addToStart: stats(started.map((s, i) => s - (added[i] as number))),
  };
}

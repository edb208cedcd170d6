import { Queue, Worker, type ConnectionOptions, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { z } from "zod";
import type { ResearchScheduler } from "@loopy/core/research";
import { publishResearchCancel } from "./research-bus.ts";
import { removeWaitingJob } from "./remove-waiting.ts";

/** The queue of research loops waiting for a worker. One job per loop; job id = loop id. */
const RESEARCH_QUEUE = "research";

const researchJobSchema = z.object({ loopId: z.string().min(1) });
export type ResearchJob = z.infer<typeof researchJobSchema>;

/**
 * A loop's job is a handle, not the state: the loop's progress is in Postgres.
 * Finished jobs go at once, so a loop handed over by a worker that shut down
 * (or found by the sweep after a crash) can be queued again under its own id.
 */
const jobOptions = { attempts: 1, removeOnComplete: true, removeOnFail: true };

export function createResearchQueue(connection: Redis, prefix: string): Queue<ResearchJob> {
  return new Queue<ResearchJob>(RESEARCH_QUEUE, { connection: connection as ConnectionOptions, prefix });
}

async function enqueueResearch(queue: Queue<ResearchJob>, loopId: string): Promise<void> {
  await queue.add("loop", researchJobSchema.parse({ loopId }), { ...jobOptions, jobId: loopId });
}

/**
 * Makes sure a loop that should be running has a job: adds one when there is
 * none, or when the one there already ended. A waiting, delayed or active job
 * is left alone (an active job of a dead worker comes back through BullMQ's
 * stalled-job check).
 */
export async function ensureResearchJob(queue: Queue<ResearchJob>, loopId: string): Promise<"added" | "present"> {
  const job = await queue.getJob(loopId);
  if (job) {
    const state = await job.getState();
    if (state !== "completed" && state !== "failed" && state !== "unknown") return "present";
    // An ended job still holds the id; one removed meanwhile (or already gone) is what we want, and if it could
    // not go the add below reports it.
    await job.remove().catch(() => undefined);
  }
  await enqueueResearch(queue, loopId);
  return "added";
}

export function createResearchScheduler(
  queue: Queue<ResearchJob>,
  publisher: Redis,
  prefix: string,
): ResearchScheduler {
  return {
    enqueue: (loopId) => enqueueResearch(queue, loopId),
    remove: (loopId) => removeWaitingJob(queue, loopId),
    requestCancel: (loopId) => publishResearchCancel(publisher, prefix, loopId),
  };
}

/**
 * The worker side. A loop runs for hours, so its lock is renewed all along;
 * a worker killed outright stops renewing, and after `lockMs` the job is
 * stalled and handed to another worker. Loops may be resumed many times.
 */
export function createResearchWorker(
  connection: Redis,
  prefix: string,
  options: { concurrency: number; lockMs: number },
  handle: (job: ResearchJob, bullJob: Job<ResearchJob>) => Promise<void>,
): Worker<ResearchJob> {
  return new Worker<ResearchJob>(RESEARCH_QUEUE, async (job) => handle(researchJobSchema.parse(job.data), job), {
    connection: connection as ConnectionOptions,
    prefix,
    concurrency: options.concurrency,
    lockDuration: options.lockMs,
    stalledInterval: options.lockMs,
    maxStalledCount: 1000,
    name: "loopy-research-worker",
  });
}

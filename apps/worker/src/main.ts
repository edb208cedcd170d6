import { loadEnv, required } from "@loopy/config/env";
import { createDb } from "@loopy/db/client";
import { executeRun } from "@loopy/core/execute-run";
import { createRedis } from "@loopy/queue/redis";
import { createRunWorker } from "@loopy/queue/run-queue";
import { createRunNotifier, Subscriptions } from "@loopy/queue/event-bus";

/**
 * The worker process: takes runs off the queue and executes them. It holds no
 * state of its own; Postgres has the runs, Redis the queue.
 */
const env = loadEnv();
const prefix = env.LOOPY_REDIS_PREFIX;
const redisUrl = required(env, "REDIS_URL");
const db = createDb(required(env, "DATABASE_URL"));
const publisher = createRedis(redisUrl, "worker");
const subscriber = createRedis(redisUrl, "subscriber");
const workerConnection = createRedis(redisUrl, "worker");
const notifier = createRunNotifier(publisher, prefix);

/** Runs in progress in this process, so a cancel request can reach them. */
const inProgress = new Map<string, AbortController>();
const subscriptions = new Subscriptions(subscriber);
await subscriptions.listenCancels(prefix, (runId) => inProgress.get(runId)?.abort());

const worker = createRunWorker(workerConnection, prefix, env.LOOPY_WORKER_CONCURRENCY, async ({ runId }) => {
  const controller = new AbortController();
  inProgress.set(runId, controller);
  try {
    await executeRun({ db, notifier, loopyHome: env.LOOPY_HOME }, runId, controller.signal);
  } finally {
    inProgress.delete(runId);
  }
});
worker.on("error", (error) => console.error(`[worker] ${error.message}`));
worker.on("failed", (job, error) => console.error(`[worker] run ${job?.id ?? "?"} failed in the queue: ${error.message}`));
await worker.waitUntilReady();
console.log(`[worker] ready: concurrency ${env.LOOPY_WORKER_CONCURRENCY}, queue prefix "${prefix}"`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`[worker] ${signal}: stopping; cancelling ${inProgress.size} run(s) in progress`);
  // Runs in progress are cancelled (their process groups killed) rather than
  // abandoned: the worker.close() below then waits for them to record it.
  for (const controller of inProgress.values()) controller.abort();
  await worker.close();
  publisher.disconnect();
  subscriber.disconnect();
  workerConnection.disconnect();
  await db.$disconnect();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

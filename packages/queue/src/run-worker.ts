import type { Db } from "@loopy/db/client";
import { executeRun } from "@loopy/core/execute-run";
import type { RunNotifier } from "@loopy/core/ports";
import { createRedis } from "./redis.ts";
import { createRunWorker } from "./run-queue.ts";
import { Subscriptions } from "./event-bus.ts";

export interface RunWorkerOptions {
  db: Db;
  notifier: RunNotifier;
  redisUrl: string;
  prefix: string;
  concurrency: number;
  loopyHome: string;
  agentBinDirs?: string[];
  /** Values for the secret names a profile lists (the worker's own environment). */
  secrets?: (names: string[]) => Record<string, string>;
  log?: (message: string) => void;
}

export interface RunWorkerHandle {
  /** Runs executing in this process right now. */
  inProgress(): number;
  /**
   * Stops taking jobs. With `cancelRunning`, runs in progress are cancelled
   * (their process groups killed) and recorded before it resolves.
   */
  close(options?: { cancelRunning?: boolean }): Promise<void>;
}

/**
 * Takes runs off the queue and executes them, and listens for cancel requests
 * for the runs it holds. Used by apps/worker and by integration tests alike.
 */
export async function startRunWorker(options: RunWorkerOptions): Promise<RunWorkerHandle> {
  const log = options.log ?? (() => undefined);
  const connection = createRedis(options.redisUrl, "worker");
  const subscriber = createRedis(options.redisUrl, "subscriber");
  const running = new Map<string, AbortController>();
  let closing = false;
  await new Subscriptions(subscriber).listenCancels(options.prefix, (runId) => running.get(runId)?.abort());

  const worker = createRunWorker(connection, options.prefix, options.concurrency, async ({ runId }) => {
    const controller = new AbortController();
    // A job BullMQ hands over while the worker closes is cancelled at once, not started and abandoned.
    if (closing) controller.abort("cancelled because its worker shut down");
    running.set(runId, controller);
    try {
      await executeRun(
        { db: options.db, notifier: options.notifier, loopyHome: options.loopyHome, agentBinDirs: options.agentBinDirs, secrets: options.secrets },
        runId,
        controller.signal,
      );
    } finally {
      running.delete(runId);
    }
  });
  worker.on("error", (error) => log(`queue error: ${error.message}`));
  worker.on("failed", (job, error) => log(`run ${job?.id ?? "?"} failed in the queue: ${error.message}`));
  await worker.waitUntilReady();

  return {
    inProgress: () => running.size,
    async close({ cancelRunning = false } = {}) {
      closing = cancelRunning;
      if (cancelRunning) for (const controller of running.values()) controller.abort("cancelled because its worker shut down");
      await worker.close();
      connection.disconnect();
      subscriber.disconnect();
    },
  };
}

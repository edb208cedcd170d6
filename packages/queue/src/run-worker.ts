import type { Db } from "@loopy/db/client";
import { executeRun } from "@loopy/core/execute-run";
import { fleetMemberSettled, sweepFleets } from "@loopy/core/fleets/dispatch";
import type { RunNotifier } from "@loopy/core/ports";
import { createRedis } from "./redis.ts";
import { createRunQueue, createRunScheduler, createRunWorker } from "./run-queue.ts";
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
  /** LOOPY_MAX_RUNNING: the global limit of running runs the fleet dispatcher keeps to. */
  maxRunning?: number;
  /** How often this worker sweeps fleets (wall-clock budgets, completion, dispatch, lost jobs); default 1 s. */
  fleetSweepMs?: number;
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
  // Fleet members are queued by whoever frees a slot: this worker too, when one of its runs settles.
  const producer = createRedis(options.redisUrl, "producer");
  const queue = createRunQueue(producer, options.prefix);
  const fleetDeps = {
    db: options.db,
    notifier: options.notifier,
    scheduler: createRunScheduler(queue, producer, options.prefix),
    loopyHome: options.loopyHome,
    maxRunning: options.maxRunning,
  };
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
        { ...fleetDeps, agentBinDirs: options.agentBinDirs, secrets: options.secrets },
        runId,
        controller.signal,
      );
    } finally {
      running.delete(runId);
      // A fleet member's end frees a slot (and may complete its fleet); the sweep retries if this fails.
      await fleetMemberSettled(fleetDeps, runId).catch((error: Error) => log(`fleet update after run ${runId} failed: ${error.message}`));
    }
  });
  let sweeping: Promise<void> | null = null;
  const sweep = setInterval(() => {
    if (sweeping || closing) return;
    sweeping = sweepFleets(fleetDeps)
      .catch((error: Error) => log(`fleet sweep failed: ${error.message}`))
      .finally(() => (sweeping = null));
  }, options.fleetSweepMs ?? 1_000);
  worker.on("error", (error) => log(`queue error: ${error.message}`));
  worker.on("failed", (job, error) => log(`run ${job?.id ?? "?"} failed in the queue: ${error.message}`));
  await worker.waitUntilReady();

  return {
    inProgress: () => running.size,
    async close({ cancelRunning = false } = {}) {
      closing = cancelRunning;
      if (cancelRunning) for (const controller of running.values()) controller.abort("cancelled because its worker shut down");
      clearInterval(sweep);
      await worker.close();
      await sweeping;
      await queue.close();
      producer.disconnect();
      connection.disconnect();
      subscriber.disconnect();
    },
  };
}

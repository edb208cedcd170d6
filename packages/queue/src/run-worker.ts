import { WaitingError } from "bullmq";
import type { Db } from "@loopy/db/client";
import { executeRun } from "@loopy/core/runs";
import { fleetMemberSettled, sweepFleets } from "@loopy/core/fleets";
import type { RunNotifier } from "@loopy/core/shared";
import { HANDOVER, LEASE_LOST, heartbeatRuns, newHolder, reconcileRuns } from "@loopy/core/runs";
import { createRedis } from "./redis.ts";
import {
  createRunQueue,
  createRunScheduler,
  createRunWorker,
  enqueueRun,
  ensureRunJob,
  hasLiveJob,
} from "./run-queue.ts";
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
  /** LOOPY_MASTER_KEY (else the key file in loopyHome), to decrypt stored secrets. */
  masterKey?: string;
  /** LOOPY_SANDBOX: agents and command checkpoints run inside bubblewrap ("auto": when it works here); off when not given. */
  sandbox?: "auto" | "on" | "off";
  /** What sandboxed processes may reach through the egress proxy, and Loopy's own services they never may. */
  egress?: { allowHosts: string[]; denyHosts: string[] };
  log?: (message: string) => void;
  /** LOOPY_MAX_RUNNING: the global limit of running runs the fleet dispatcher keeps to. */
  maxRunning?: number;
  /** How often this worker sweeps fleets (wall-clock budgets, completion, dispatch, lost jobs); default 1 s. */
  fleetSweepMs?: number;
  /**
   * LOOPY_RUN_LEASE (default 30 s): a run whose worker has not renewed its
   * heartbeat for this long is taken over by another; also the BullMQ lock.
   */
  leaseMs?: number;
  /** How often the worker reconciles runs with the queue (runs nobody holds, jobs lost by Redis); default the lease. */
  reconcileIntervalMs?: number;
}

export interface RunWorkerHandle {
  /** This worker's identity in run leases. */
  holder: string;
  /** Runs executing in this process right now. */
  inProgress(): number;
  /**
   * Stops taking jobs. With `graceMs` (a SIGTERM), runs in progress get that
   * long to finish; the rest are stopped (process groups killed) and handed
   * over: their jobs go back to the queue and the next worker re-runs the
   * interrupted turn. With `cancelRunning`, runs in progress are cancelled and
   * recorded as such. Without either, it waits for them.
   */
  close(options?: { cancelRunning?: boolean; graceMs?: number }): Promise<void>;
}

type FleetDeps = Parameters<typeof fleetMemberSettled>[0];

/** What the job handler, the heartbeat and `close` share. */
interface WorkerState {
  running: Map<string, AbortController>;
  /** Runs whose lease this worker has renewed at least once. */
  held: Set<string>;
  closing: "cancel" | "handover" | null;
}

/**
 * Takes runs off the queue and executes them, renews the leases of the runs
 * it holds, listens for cancel requests, and reconciles runs with the queue,
 * worktrees and processes at start (then the queue part periodically). Used by
 * apps/worker and by integration tests alike.
 */
export async function startRunWorker(options: RunWorkerOptions): Promise<RunWorkerHandle> {
  const log = options.log ?? (() => undefined);
  const leaseMs = options.leaseMs ?? 30_000;
  const holder = newHolder();
  const connection = createRedis(options.redisUrl, "worker");
  const subscriber = createRedis(options.redisUrl, "subscriber");
  // Fleet members are queued by whoever frees a slot: this worker too, when one of its runs settles.
  // Fail-fast (producer): a sweep while Redis is down fails and is retried, instead of hanging.
  const producer = createRedis(options.redisUrl, "producer");
  const queue = createRunQueue(producer, options.prefix);
  const fleetDeps: FleetDeps = {
    db: options.db,
    notifier: options.notifier,
    scheduler: createRunScheduler(queue, producer, options.prefix),
    loopyHome: options.loopyHome,
    maxRunning: options.maxRunning,
  };
  const reconcileDeps = {
    db: options.db,
    notifier: options.notifier,
    loopyHome: options.loopyHome,
    leaseMs,
    log,
    jobs: {
      has: (jobId: string) => hasLiveJob(queue, jobId),
      enqueue: (runId: string, turn?: number) => enqueueRun(queue, runId, turn),
      ensure: (runId: string, jobId: string) => ensureRunJob(queue, runId, jobId),
    },
  };
  const state: WorkerState = { running: new Map(), held: new Set(), closing: null };
  const { running } = state;
  await new Subscriptions(subscriber).listenCancels(options.prefix, (runId) => running.get(runId)?.abort());

  const worker = createRunWorker(
    connection,
    options.prefix,
    options.concurrency,
    runJobHandler(options, state, fleetDeps, { holder, leaseMs }, log),
    leaseMs,
  );

  // Leases: renewed every lease/3; a run another worker holds now (this one missed its lease) is stopped here.
  const heartbeat = setInterval(
    () => renewLeases(options.db, holder, state, log),
    Math.max(100, Math.floor(leaseMs / 3)),
  );

  let sweeping: Promise<void> | null = null;
  const sweep = setInterval(() => {
    if (sweeping || state.closing) return;
    sweeping = sweepFleets(fleetDeps)
      .catch((error: Error) => log(`fleet sweep failed: ${error.message}`))
      .finally(() => (sweeping = null));
  }, options.fleetSweepMs ?? 1_000);
  worker.on("error", (error) => log(`queue error: ${error.message}`));
  worker.on("failed", (job, error) => log(`run ${job?.id ?? "?"} failed in the queue: ${error.message}`));
  await worker.waitUntilReady();

  // On start: repair what a previous worker (or a Redis that restarted empty) left; then the queue part periodically.
  let reconciling: Promise<unknown> | null = reconcileRuns(reconcileDeps, { full: true })
    .catch((error: Error) => log(`reconciling runs failed: ${error.message}`))
    .finally(() => (reconciling = null));
  const reconcile = setInterval(() => {
    if (reconciling || state.closing) return;
    reconciling = reconcileRuns(reconcileDeps)
      .catch((error: Error) => log(`reconciling runs failed: ${error.message}`))
      .finally(() => (reconciling = null));
  }, options.reconcileIntervalMs ?? leaseMs);

  return {
    holder,
    inProgress: () => running.size,
    async close({ cancelRunning = false, graceMs } = {}) {
      state.closing = cancelRunning ? "cancel" : graceMs !== undefined ? "handover" : null;
      if (cancelRunning)
        for (const controller of running.values()) controller.abort("cancelled because its worker shut down");
      clearInterval(sweep);
      clearInterval(reconcile);
      // Stops fetching jobs at once; resolves when the runs in progress are done.
      const closed = worker.close();
      if (graceMs !== undefined && running.size > 0) await handOverAfterGrace(closed, graceMs, running, log);
      await closed;
      clearInterval(heartbeat);
      await sweeping;
      await reconciling;
      await queue.close();
      producer.disconnect();
      connection.disconnect();
      subscriber.disconnect();
    },
  };
}

/** The queue's job handler: executes the run, then settles its fleet member or hands the run over. */
function runJobHandler(
  options: RunWorkerOptions,
  state: WorkerState,
  fleetDeps: FleetDeps,
  lease: { holder: string; leaseMs: number },
  log: (message: string) => void,
): Parameters<typeof createRunWorker>[3] {
  const { running, held } = state;
  return async ({ runId }, job, token) => {
    // Another job of the same run (a take-over job next to a stalled one) while this process executes it.
    if (running.has(runId)) return;
    if (state.closing === "handover") {
      // Taken just as the worker closes: back to the queue for the next worker.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const controller = new AbortController();
    // A job BullMQ hands over while the worker closes is cancelled at once, not started and abandoned.
    if (state.closing === "cancel") controller.abort("cancelled because its worker shut down");
    running.set(runId, controller);
    let result: Awaited<ReturnType<typeof executeRun>> = "done";
    try {
      result = await executeRun(
        {
          ...fleetDeps,
          agentBinDirs: options.agentBinDirs,
          secrets: options.secrets,
          masterKey: options.masterKey,
          sandbox: options.sandbox,
          egress: options.egress,
          lease,
          log,
        },
        runId,
        controller.signal,
      );
    } finally {
      running.delete(runId);
      held.delete(runId);
      // A fleet member's end frees a slot (and may complete its fleet); the sweep retries if this fails.
      if (result === "done")
        await fleetMemberSettled(fleetDeps, runId).catch((error: Error) =>
          log(`fleet update after run ${runId} failed: ${error.message}`),
        );
    }
    if (result === "handed_over") {
      // The run is released in Postgres; its job goes back to the queue for whichever worker comes next.
      log(`run ${runId} handed over: ${HANDOVER}`);
      await job.moveToWait(token);
      throw new WaitingError();
    }
  };
}

/** One heartbeat: renews the leases of the runs in progress and stops those another worker holds now. */
function renewLeases(db: Db, holder: string, state: WorkerState, log: (message: string) => void): void {
  const { running, held } = state;
  if (running.size === 0) return;
  heartbeatRuns(db, holder, [...running.keys()])
    .then(({ renewed, heldByOthers }) => {
      for (const runId of renewed) if (running.has(runId)) held.add(runId);
      // Only a run this worker did hold was lost; one it is still waiting to take over is not.
      for (const runId of heldByOthers.filter((id) => held.has(id))) {
        log(`run ${runId}: ${LEASE_LOST}; stopping it here`);
        running.get(runId)?.abort(LEASE_LOST);
      }
    })
    .catch((error: Error) => log(`could not renew run leases: ${error.message}`));
}

/** Waits up to `graceMs` for the worker to close; past it, the runs still in progress are stopped and handed over. */
async function handOverAfterGrace(
  closed: Promise<void>,
  graceMs: number,
  running: Map<string, AbortController>,
  log: (message: string) => void,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = await Promise.race([
    closed.then(() => false),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs))),
  ]);
  clearTimeout(timer);
  if (expired) {
    log(`shutdown grace over: handing over ${running.size} run(s) still in progress`);
    for (const controller of running.values()) controller.abort(HANDOVER);
  }
}

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Db } from "@loopy/db/client";
import { cleanUpEndedLoop, executeResearchLoop, SHUTDOWN } from "@loopy/core/research";
import type { ResearchNotifier } from "@loopy/core/research";
import { Subscriptions } from "./event-bus.ts";
import { createRedis } from "./redis.ts";
import { listenResearchCancels } from "./research-bus.ts";
import {
  createResearchQueue,
  createResearchScheduler,
  createResearchWorker,
  ensureResearchJob,
} from "./research-queue.ts";
import { researchFleetProgress, sweepResearchFleets, type ResearchFleetDeps } from "@loopy/core/fleets";

export interface ResearchWorkerOptions {
  db: Db;
  notifier: ResearchNotifier;
  redisUrl: string;
  prefix: string;
  /** Loops one worker process runs at once (each runs one experiment at a time). */
  concurrency: number;
  loopyHome: string;
  agentBinDirs?: string[];
  secrets?: (names: string[]) => Record<string, string>;
  /** LOOPY_MASTER_KEY (else the key file in loopyHome), to decrypt stored secrets. */
  masterKey?: string;
  /** LOOPY_SANDBOX. */
  sandbox?: "auto" | "on" | "off";
  /** What sandboxed processes may reach through the egress proxy, and Loopy's own services they never may. */
  egress?: { allowHosts: string[]; denyHosts: string[] };
  /**
   * How long a loop (and a slot) stays held without a heartbeat, and the
   * BullMQ lock of its job: the time a crashed worker's loop waits before
   * another worker resumes it. Default 30 s.
   */
  leaseMs?: number;
  /** How often to look for loops nobody holds (default: the lease). */
  sweepIntervalMs?: number;
  /** Tells listeners a fleet changed (research fleets: completed, budget stop); the run notifier's. */
  fleetChanged?: (fleetId: string, status: string) => Promise<void>;
  log?: (message: string) => void;
}

export interface ResearchWorkerHandle {
  /** This worker's identity in loop leases. */
  holder: string;
  inProgress(): number;
  /** Looks for loops that should run but have no live holder and no job, and queues them. */
  sweep(): Promise<string[]>;
  /**
   * Stops taking loops. Loops in progress are handed over, not ended: the
   * running experiment is killed and queued again, and the loop's job is
   * queued for the next worker.
   */
  close(): Promise<void>;
}

/**
 * Takes research loops off the queue and runs them; listens for cancel
 * requests; at start and then periodically, re-queues loops whose holder is
 * gone (a crashed worker) so none is stranded.
 */
export async function startResearchWorker(options: ResearchWorkerOptions): Promise<ResearchWorkerHandle> {
  const log = options.log ?? (() => undefined);
  const leaseMs = options.leaseMs ?? 30_000;
  const holder = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const connection = createRedis(options.redisUrl, "worker");
  const queueConnection = createRedis(options.redisUrl, "worker");
  const subscriber = createRedis(options.redisUrl, "subscriber");
  const queue = createResearchQueue(queueConnection, options.prefix);
  const running = new Map<string, AbortController>();
  let closing = false;
  await listenResearchCancels(new Subscriptions(subscriber), options.prefix, (loopId) =>
    running.get(loopId)?.abort("cancelled by a user"),
  );

  const deps = {
    db: options.db,
    researchNotifier: options.notifier,
    loopyHome: options.loopyHome,
    agentBinDirs: options.agentBinDirs,
    secrets: options.secrets,
    masterKey: options.masterKey,
    sandbox: options.sandbox,
    egress: options.egress,
    holder,
    leaseMs,
    log,
  };
  const fleetDeps: ResearchFleetDeps = {
    db: options.db,
    researchNotifier: options.notifier,
    researchScheduler: createResearchScheduler(queue, queueConnection, options.prefix),
    agentBinDirs: options.agentBinDirs ?? [],
    notifier: { fleetChanged: options.fleetChanged },
  };
  const worker = createResearchWorker(
    connection,
    options.prefix,
    { concurrency: options.concurrency, lockMs: leaseMs },
    async ({ loopId }) => {
      const controller = new AbortController();
      if (closing) controller.abort(SHUTDOWN);
      running.set(loopId, controller);
      try {
        await executeResearchLoop(deps, loopId, controller.signal);
      } finally {
        running.delete(loopId);
        if (!closing) await fleetOf(fleetDeps, loopId, log);
      }
    },
  );
  worker.on("error", (error) => log(`research queue error: ${error.message}`));
  worker.on("failed", (job, error) => log(`research loop ${job?.id ?? "?"} failed in the queue: ${error.message}`));
  await worker.waitUntilReady();

  const sweep = () => sweepLoops(deps, queue, running);
  const sweepSafely = () => sweep().catch((error: Error) => log(`research sweep failed: ${error.message}`));
  await sweepSafely();
  const timer = setInterval(() => void sweepSafely(), options.sweepIntervalMs ?? leaseMs);
  // Research fleets: budgets (a wall clock runs out with nothing happening), completion, next loops.
  let fleetSweep: Promise<void> | null = null;
  const fleetTimer = setInterval(() => {
    if (fleetSweep || closing) return;
    fleetSweep = sweepResearchFleets(fleetDeps)
      .catch((error: Error) => log(`research fleet sweep failed: ${error.message}`))
      .finally(() => (fleetSweep = null));
  }, 2_000);

  let closed: Promise<void> | undefined;
  return {
    holder,
    inProgress: () => running.size,
    sweep,
    close() {
      closed ??= shutdown();
      return closed;
    },
  };

  async function shutdown(): Promise<void> {
    closing = true;
    clearInterval(timer);
    clearInterval(fleetTimer);
    const handedOver = [...running.keys()];
    for (const controller of running.values()) controller.abort(SHUTDOWN);
    await worker.close();
    // The loops this worker let go of get a job again, for whichever worker comes next.
    for (const loopId of handedOver)
      await ensureResearchJob(queue, loopId).catch((error: Error) =>
        log(`could not re-queue loop ${loopId}: ${error.message}`),
      );
    await queue.close();
    connection.disconnect();
    queueConnection.disconnect();
    subscriber.disconnect();
  }
}

type LoopDeps = Parameters<typeof cleanUpEndedLoop>[0] & { leaseMs: number; log: (message: string) => void };

/** A research fleet's loop ended (or let go): its fleet may complete, stop on budget, or start the next loop. */
async function fleetOf(fleetDeps: ResearchFleetDeps, loopId: string, log: (message: string) => void): Promise<void> {
  const loop = await fleetDeps.db.researchLoop.findUnique({ where: { id: loopId }, select: { fleetId: true } });
  if (loop?.fleetId)
    await researchFleetProgress(fleetDeps, loop.fleetId).catch((error: Error) =>
      log(`research fleet ${loop.fleetId}: ${error.message}`),
    );
}

/** Queues the loops that should run but have no live holder and no job, and tidies loops that ended while no worker held them. */
async function sweepLoops(
  deps: LoopDeps,
  queue: ReturnType<typeof createResearchQueue>,
  running: Map<string, AbortController>,
): Promise<string[]> {
  const { db, leaseMs, log } = deps;
  const stranded = await db.$queryRaw<Array<{ id: string }>>`
    SELECT id FROM research_loops
     WHERE status IN ('queued', 'running')
       AND (fleet_id IS NULL OR dispatched_at IS NOT NULL) -- a research fleet's waiting members start when their fleet says so
       AND (holder IS NULL OR heartbeat_at IS NULL OR heartbeat_at < now() - ${leaseMs}::int * interval '1 millisecond')`;
  const added: string[] = [];
  for (const { id } of stranded) {
    if (running.has(id)) continue;
    if ((await ensureResearchJob(queue, id)) === "added") added.push(id);
  }
  if (added.length) log(`re-queued research loop(s) without a live holder: ${added.join(", ")}`);
  // Loops that ended (a cancel) while their worker was down still have a worktree and maybe a "running" experiment.
  const untidy = await db.$queryRaw<Array<{ id: string }>>`
    SELECT id FROM research_loops
     WHERE status IN ('completed', 'failed', 'cancelled') AND worktree_path IS NOT NULL
       AND (heartbeat_at IS NULL OR heartbeat_at < now() - ${leaseMs}::int * interval '1 millisecond')`;
  for (const { id } of untidy) {
    if (running.has(id)) continue;
    await cleanUpEndedLoop(deps, id);
    log(`tidied research loop ${id}, which ended while no worker held it`);
  }
  return added;
}

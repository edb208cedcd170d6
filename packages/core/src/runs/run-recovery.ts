import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import type { Db } from "@loopy/db/client";
import { git } from "../shared/git.ts";
import { removeWorkspace } from "../projects/workspace.ts";
import { killRunProcesses, findRunProcesses } from "./run-processes.ts";
import { TERMINAL_STATUSES } from "./run-status.ts";
import type { CoreDeps } from "../shared/ports.ts";

/**
 * Who executes a run. The worker that claims a run writes its `holder` on the
 * row and renews `heartbeat_at` every lease/3; a run whose heartbeat is older
 * than the lease has nobody behind it (the worker was killed, froze, or lost
 * its database) and may be taken over. Postgres, not Redis, says who holds a
 * run: a Redis that restarts empty must not make a live worker's run look
 * abandoned.
 */
export interface RunLease {
  holder: string;
  leaseMs: number;
}

/** A worker's identity in run and loop leases: host, pid and a random part. */
export function newHolder(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
}

/** The abort reason of a run whose worker shuts down: it is handed over, not ended. */
export const HANDOVER = "its worker is shutting down; the run is handed over to the next worker";
/** The abort reason of a run another worker took over (this one stopped renewing its lease in time). */
export const LEASE_LOST = "another worker took the run over (this worker's lease ran out)";

/** Whether the run was stopped to be handed over or taken over, rather than cancelled. */
export function stoppedForRecovery(signal: AbortSignal): boolean {
  return signal.aborted && (signal.reason === HANDOVER || signal.reason === LEASE_LOST);
}

/** An interrupted turn is re-run once; the next interruption of the same run fails it. */
export const MAX_INTERRUPTIONS = 1;

/**
 * Renews the heartbeat of the runs this worker holds. Returns the ids it
 * renewed, and those another worker holds now: a run this worker had held and
 * another took over (this one missed its lease) must stop here and write
 * nothing more.
 */
export async function heartbeatRuns(
  db: Db,
  holder: string,
  runIds: string[],
): Promise<{ renewed: string[]; heldByOthers: string[] }> {
  if (runIds.length === 0) return { renewed: [], heldByOthers: [] };
  const renewed = await db.$queryRaw<Array<{ id: string }>>`
    UPDATE runs SET heartbeat_at = now() WHERE holder = ${holder} AND id = ANY(${runIds}::text[]) AND status IN ('running', 'verifying') RETURNING id`;
  const others = await db.$queryRaw<Array<{ id: string }>>`
    SELECT id FROM runs WHERE id = ANY(${runIds}::text[]) AND status IN ('running', 'verifying') AND holder IS NOT NULL AND holder <> ${holder}`;
  return { renewed: renewed.map((r) => r.id), heldByOthers: others.map((r) => r.id) };
}

/** Lets go of a run this worker holds (shutdown): the next worker may take it at once, without counting an interruption. */
export async function releaseRun(db: Db, runId: string, holder: string): Promise<void> {
  await db.$executeRaw`UPDATE runs SET holder = NULL, heartbeat_at = to_timestamp(0) WHERE id = ${runId} AND holder = ${holder}`;
}

export type Takeover =
  /** This worker holds the run now. `crashed`: its last holder died (counted); else it was handed over. */
  | { taken: true; crashed: boolean; interruptions: number }
  /** A live worker holds it, or it is not running any more. */
  | { taken: false; why: "held" | "not_running" };

/**
 * Takes over a running or verifying run whose holder is gone: released at a
 * shutdown, or silent for longer than the lease. One conditional UPDATE, so of
 * two workers that try at once exactly one wins. When the holder's lease has
 * not run out yet it waits for it once; a holder that renews meanwhile is alive.
 */
export async function takeOverRun(db: Db, runId: string, lease: RunLease): Promise<Takeover> {
  for (let attempt = 0; ; attempt++) {
    const rows = await db.$queryRaw<Array<{ interruptions: number; previous: string | null }>>`
      WITH old AS (SELECT id, holder FROM runs WHERE id = ${runId} FOR UPDATE)
      UPDATE runs r
         SET holder = ${lease.holder},
             heartbeat_at = now(),
             interruptions = r.interruptions + CASE WHEN old.holder IS NULL THEN 0 ELSE 1 END
        FROM old
       WHERE r.id = old.id
         AND r.status IN ('running', 'verifying')
         AND COALESCE(r.heartbeat_at, r.started_at, r.created_at) < now() - ${lease.leaseMs}::int * interval '1 millisecond'
      RETURNING r.interruptions, old.holder AS previous`;
    const row = rows[0];
    if (row) return { taken: true, crashed: row.previous !== null, interruptions: row.interruptions };
    const [current] = await db.$queryRaw<Array<{ status: string; waitMs: number | null }>>`
      SELECT status::text AS status,
             (EXTRACT(EPOCH FROM (COALESCE(heartbeat_at, started_at, created_at) + ${lease.leaseMs}::int * interval '1 millisecond' - now())) * 1000)::float8 AS "waitMs"
        FROM runs WHERE id = ${runId}`;
    if (!current || (current.status !== "running" && current.status !== "verifying"))
      return { taken: false, why: "not_running" };
    if (attempt >= 1) return { taken: false, why: "held" };
    // The holder's lease may just not have run out yet (BullMQ noticed the stall first): wait for it once.
    await new Promise((r) => setTimeout(r, Math.max(0, current.waitMs ?? 0) + 100));
  }
}

/** What reconciling needs from the queue. */
export interface RunJobs {
  /** Whether a job with this id is waiting, delayed or active. */
  has(jobId: string): Promise<boolean>;
  /** Queues the run's job (first turn, or a follow-up `turn`), as launch and request-changes do. */
  enqueue(runId: string, turn?: number): Promise<void>;
  /** Makes sure a job `jobId` for the run is waiting or active (a finished one of that id is replaced); true when it added one. */
  ensure(runId: string, jobId: string): Promise<boolean>;
}

export interface ReconcileDeps extends CoreDeps {
  loopyHome: string;
  leaseMs: number;
  jobs: RunJobs;
  log?: (message: string) => void;
}

export interface ReconcileSummary {
  /** Running or verifying runs nobody holds: a job was queued to take them over (re-run the turn once, else fail). */
  recovered: string[];
  /** Queued runs (or follow-up turns) whose job was missing in Redis: queued again. */
  requeued: string[];
  /** Worktrees of runs that ended or that the database does not know: removed. */
  worktreesRemoved: string[];
  /** Processes left working for runs that nobody executes: killed. */
  processesKilled: number[];
}

/**
 * Makes the database, the queue, the worktrees and the processes agree, on
 * worker start (`full`) and then periodically (jobs only):
 *
 * - a running or verifying run without a live holder gets a job, so a worker
 *   takes it over (see `executeRun`): its turn re-runs once, or it fails with
 *   the reason;
 * - a queued run, or a follow-up turn waiting for a worker, whose job is gone
 *   (Redis restarted empty) is queued again; fleet members wait for their
 *   dispatcher, which has its own sweep;
 * - `full` also removes worktrees under LOOPY_HOME of runs that ended or that
 *   the database does not know (never one of a run that is active or waiting
 *   for review, which needs it; research loops and merge scratch folders are
 *   not runs), and kills processes still working for a run nobody executes.
 *
 * Several workers may do this at once: every step is idempotent (jobs have
 * deterministic ids, so two workers queue one job; removing a removed
 * worktree or killing a dead group does nothing). No lock is held across it:
 * the embedded database serves one transaction at a time, and a lock held
 * while Redis is down would freeze the web app.
 */
export async function reconcileRuns(deps: ReconcileDeps, options: { full?: boolean } = {}): Promise<ReconcileSummary> {
  const summary: ReconcileSummary = { recovered: [], requeued: [], worktreesRemoved: [], processesKilled: [] };
  await recoverJobs(deps, summary);
  if (options.full) {
    await killStrayProcesses(deps, summary);
    await removeStaleWorktrees(deps, summary);
  }
  const parts = [
    summary.recovered.length &&
      `${summary.recovered.length} run(s) without a live worker queued for take-over (${summary.recovered.join(", ")})`,
    summary.requeued.length &&
      `${summary.requeued.length} job(s) missing from Redis queued again (${summary.requeued.join(", ")})`,
    summary.worktreesRemoved.length && `${summary.worktreesRemoved.length} stale worktree(s) removed`,
    summary.processesKilled.length && `${summary.processesKilled.length} leftover process(es) killed`,
  ].filter(Boolean);
  if (parts.length) deps.log?.(`reconciled runs: ${parts.join("; ")}`);
  else if (options.full) deps.log?.("reconciled runs: nothing to repair");
  return summary;
}

async function recoverJobs(deps: ReconcileDeps, summary: ReconcileSummary): Promise<void> {
  const { db } = deps;
  const orphans = await db.$queryRaw<Array<{ id: string; interruptions: number }>>`
    SELECT id, interruptions FROM runs
     WHERE status IN ('running', 'verifying')
       AND COALESCE(heartbeat_at, started_at, created_at) < now() - ${deps.leaseMs}::int * interval '1 millisecond'`;
  for (const run of orphans) {
    // One job id per interruption count: workers reconciling the same orphan queue it once.
    if (await deps.jobs.ensure(run.id, `${run.id}-r${run.interruptions}`)) summary.recovered.push(run.id);
  }
  const queued = await db.run.findMany({
    where: { status: "queued", OR: [{ fleetId: null }, { dispatchedAt: { not: null } }] },
    select: { id: true, fleetId: true },
    take: 5_000,
  });
  for (const run of queued) {
    // Fleet members that were dispatched are the fleet sweep's (it re-queues them after a while); only missing ones here.
    if (await deps.jobs.has(run.id)) continue;
    await deps.jobs.enqueue(run.id);
    summary.requeued.push(run.id);
  }
  // A reviewer's follow-up turn waiting for a worker.
  const followUps = await db.runTurn.findMany({
    where: { status: "pending", index: { gt: 0 }, run: { status: { in: ["awaiting_review", "needs_attention"] } } },
    select: { runId: true, index: true },
    take: 5_000,
  });
  for (const turn of followUps) {
    if (await deps.jobs.has(`${turn.runId}-t${turn.index}`)) continue;
    await deps.jobs.enqueue(turn.runId, turn.index);
    summary.requeued.push(`${turn.runId} (turn ${turn.index + 1})`);
  }
}

/** Runs whose processes may be killed: not running or verifying (those are the take-over's, which kills what they left first). */
async function unheldRuns(db: Db, runIds: string[]): Promise<Set<string>> {
  if (runIds.length === 0) return new Set();
  const active = await db.run.findMany({
    where: { id: { in: runIds }, status: { in: ["running", "verifying"] } },
    select: { id: true },
  });
  return new Set(runIds.filter((id) => !active.some((a) => a.id === id)));
}

async function killStrayProcesses(deps: ReconcileDeps, summary: ReconcileSummary): Promise<void> {
  const found = findRunProcesses(deps.loopyHome);
  if (found.length === 0) return;
  const ids = [...new Set(found.map((p) => p.runId))];
  const known = new Set(
    (await deps.db.run.findMany({ where: { id: { in: ids } }, select: { id: true } })).map((r) => r.id),
  );
  const worktrees = path.join(deps.loopyHome, "worktrees");
  // A LOOPY_RUN_ID this database does not know belongs to another Loopy on the machine; only processes inside our own worktrees are ours then.
  const ours = ids.filter((id) => known.has(id) || existsSync(path.join(worktrees, id)));
  const victims = await unheldRuns(deps.db, ours);
  summary.processesKilled.push(...(await killRunProcesses(deps.loopyHome, victims)));
}

async function removeStaleWorktrees(deps: ReconcileDeps, summary: ReconcileSummary): Promise<void> {
  const folder = path.join(deps.loopyHome, "worktrees");
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return;
  }
  // Research loops have their own recovery; merge-* are an approval's scratch folders, in use by an API process.
  // ".index" holds Loopy's own indexes of the workspaces (see workspace.ts), not a workspace.
  const candidates = names.filter((n) => !n.startsWith("research-") && !n.startsWith("merge-") && !n.startsWith("."));
  if (candidates.length === 0) return;
  const runs = await deps.db.run.findMany({
    where: { id: { in: candidates } },
    select: { id: true, status: true, project: { select: { path: true } } },
  });
  const repos = new Set<string>();
  for (const name of candidates) {
    const run = runs.find((r) => r.id === name);
    if (run && !TERMINAL_STATUSES.includes(run.status)) continue;
    const worktree = path.join(folder, name);
    const repo = run?.project.path ?? repoOfWorktree(worktree);
    if (repo && existsSync(repo)) {
      // Tried again without the repository just below; `worktree prune` then makes git forget it.
      await removeWorkspace(repo, worktree).catch((error: Error) =>
        deps.log?.(`reconcile: could not remove the workspace ${worktree} (${error.message}); trying again`),
      );
      repos.add(repo);
    }
    await removeWorkspace(null, worktree);
    await rm(path.join(deps.loopyHome, "agent-state", name), { recursive: true, force: true });
    if (run)
      await deps.db.run.updateMany({
        where: { id: run.id, worktreePath: { not: null } },
        data: { worktreePath: null },
      });
    summary.worktreesRemoved.push(name);
  }
  // Only git's bookkeeping of removed folders; the next worker start prunes again.
  for (const repo of repos)
    await git(repo, ["worktree", "prune"]).catch((error: Error) =>
      deps.log?.(`reconcile: git worktree prune failed in ${repo}: ${error.message}`),
    );
}

/** The repository a linked worktree belongs to, from its `.git` file ("gitdir: <repo>/.git/worktrees/<name>"). */
function repoOfWorktree(worktree: string): string | null {
  try {
    const line = readFileSync(path.join(worktree, ".git"), "utf8").trim();
    const gitdir = line.startsWith("gitdir: ") ? line.slice(8) : null;
    if (!gitdir) return null;
    const marker = `${path.sep}.git${path.sep}worktrees${path.sep}`;
    const at = gitdir.lastIndexOf(marker);
    return at >= 0 ? gitdir.slice(0, at) : null;
  } catch {
    return null;
  }
}

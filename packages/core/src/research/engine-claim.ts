import { appendResearchEvents } from "./events.ts";
import { type Ctx, logOf, push, type ResearchEngineDeps, sleep } from "./engine-context.ts";
import { releaseSlots, renewSlots } from "./slots.ts";

/**
 * Holding a loop: the claim (one conditional UPDATE), the heartbeat that keeps
 * the lease (and the slot leases) alive, and letting go of a paused loop.
 */

/**
 * Claims a loop for this worker with one conditional UPDATE: a queued loop, or
 * a running one whose holder stopped renewing its lease (a worker that died).
 * Database time decides staleness, so clocks of different machines never matter.
 */
async function claimLoop(deps: ResearchEngineDeps, loopId: string): Promise<"claimed" | "resumed" | null> {
  const rows = await deps.db.$queryRaw<Array<{ resumed: boolean }>>`
    UPDATE research_loops AS l
       SET status = 'running', holder = ${deps.holder}, heartbeat_at = now(), started_at = COALESCE(l.started_at, now()), status_reason = NULL
      FROM (SELECT id, status FROM research_loops WHERE id = ${loopId} FOR UPDATE) AS before
     WHERE l.id = before.id
       AND (l.status = 'queued'
            OR (l.status = 'running' AND (l.holder IS NULL OR l.holder = ${deps.holder} OR l.heartbeat_at IS NULL OR l.heartbeat_at < now() - ${deps.leaseMs}::int * interval '1 millisecond')))
    RETURNING before.status = 'running' AS resumed`;
  const row = rows[0];
  if (!row) return null;
  return row.resumed ? "resumed" : "claimed";
}

/**
 * Claims the loop; a job that comes back while the dead holder's lease still
 * runs waits the lease out, a few times at most. Null: not this worker's to run.
 */
export async function claimOrWait(
  deps: ResearchEngineDeps,
  loopId: string,
  signal: AbortSignal,
): Promise<"claimed" | "resumed" | null> {
  let claim = await claimLoop(deps, loopId);
  for (let wait = 0; !claim && wait < 3 && !signal.aborted; wait++) {
    const row = await deps.db.researchLoop.findUnique({ where: { id: loopId }, select: { status: true } });
    if (row?.status !== "running") return null;
    await sleep(deps.leaseMs + 250, signal);
    claim = await claimLoop(deps, loopId);
  }
  return claim;
}

/**
 * Renews the loop's lease and its slot leases every lease/3; aborts the loop's
 * controller once the row says the loop ended or another worker took it over.
 * Returns the timer to clear.
 */
export function startHeartbeat(
  deps: ResearchEngineDeps,
  loopId: string,
  controller: AbortController,
): ReturnType<typeof setInterval> {
  const { db } = deps;
  const log = logOf(deps);
  return setInterval(
    () => {
      void (async () => {
        try {
          // Paused: the experiment in progress still finishes, so the hold is kept until then.
          const held =
            await db.$executeRaw`UPDATE research_loops SET heartbeat_at = now() WHERE id = ${loopId} AND holder = ${deps.holder} AND status IN ('running', 'paused')`;
          if (held === 0) controller.abort("the loop ended or another worker took it over");
          else await renewSlots(db, deps.holder, loopId, deps.leaseMs);
        } catch (error) {
          log(`research loop ${loopId}: heartbeat failed: ${(error as Error).message}`);
        }
      })();
    },
    Math.max(50, Math.floor(deps.leaseMs / 3)),
  );
}

/**
 * Paused: the last experiment is recorded; let go of the loop (its worktree
 * stays for the resume). Conditional on the row: a resume that came first set
 * it running again, and the loop goes on (false).
 */
export async function letGoPaused(ctx: Ctx): Promise<boolean> {
  const { db, holder } = ctx.deps;
  const released = await db.$transaction(async (tx) => {
    const { count } = await tx.researchLoop.updateMany({
      where: { id: ctx.loopId, holder, status: "paused" },
      data: { holder: null, heartbeatAt: null },
    });
    return count
      ? appendResearchEvents(tx, null, ctx.loopId, [{ type: "loop", status: "paused", reason: "Paused by a user" }])
      : null;
  });
  if (!released) return false;
  await push(ctx, released);
  return true;
}

/**
 * Releases this worker's slot leases of the loop. Best effort: a lease nobody
 * renews expires after leaseMs and is free to claim then, so a failure only
 * delays other experiments waiting for the slot (logged).
 */
export async function releaseLoopSlots(deps: ResearchEngineDeps, loopId: string): Promise<void> {
  await releaseSlots(deps.db, { holder: deps.holder, loopId }).catch((error: Error) =>
    logOf(deps)(`research loop ${loopId}: releasing its slots failed (they expire with the lease): ${error.message}`),
  );
}

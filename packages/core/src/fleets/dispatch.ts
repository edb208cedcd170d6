import { resolveCommit } from "../shared/git.ts";
import type { CoreDeps } from "../shared/ports.ts";
import { appendRunEvents } from "../live/run-events.ts";
import { transitionRun } from "../runs/runs.ts";
import { DEPENDENCY_DONE } from "./dag.ts";
import { fleetLog, type FleetRuntimeDeps } from "./model.ts";
import { budgetSpent, cancelBlocked, completeIfSettled, OPEN_FLEET, refreshSpent, stopFleet } from "./teardown.ts";

/**
 * The fleet dispatcher. A fleet's members are written as queued runs without a
 * job; the dispatcher queues the next ones (in member order) whenever a slot is
 * free under the fleet's own limit and the global one (LOOPY_MAX_RUNNING). A
 * member counts against the limits from the moment it is dispatched
 * (`runs.dispatched_at`) until it leaves running/verifying.
 *
 * Every decision is made in Postgres under one transaction-scoped advisory lock
 * (and the fleet row's lock), so any number of API and worker processes may
 * dispatch at once without exceeding a limit, and nothing is lost in a restart:
 * the periodic sweep of every worker dispatches again, stops fleets whose wall
 * clock ran out, completes settled fleets and re-queues members whose job
 * vanished.
 */

export const DEFAULT_MAX_RUNNING = 16;
/** One lock for every dispatch decision (the global limit spans fleets). */
const DISPATCH_LOCK = 727_275;
/** A dispatched member whose run has not started after this long gets its job queued again (idempotent by job id). */
const REQUEUE_AFTER_MS = 5_000;

/**
 * Queues as many waiting members of the fleet as the limits allow. Returns the
 * run ids it queued. A fleet that is not running dispatches nothing.
 */
export async function dispatchFleet(deps: FleetRuntimeDeps, fleetId: string): Promise<string[]> {
  const max = deps.maxRunning ?? DEFAULT_MAX_RUNNING;
  const picked = await deps.db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${DISPATCH_LOCK}::bigint)`;
    const [fleet] = await tx.$queryRaw<Array<{ status: string; concurrency: number }>>`
      SELECT status::text AS status, concurrency FROM fleets WHERE id = ${fleetId} FOR UPDATE`;
    if (fleet?.status !== "running") return [];
    const [counts] = await tx.$queryRaw<Array<{ fleet: number; total: number }>>`
      SELECT (count(*) FILTER (WHERE fleet_id = ${fleetId}))::int AS fleet, count(*)::int AS total
      FROM runs
      WHERE status IN ('running', 'verifying') OR (status = 'queued' AND dispatched_at IS NOT NULL)`;
    const slots = Math.min(fleet.concurrency - (counts?.fleet ?? 0), max - (counts?.total ?? 0));
    if (slots <= 0) return [];
    // Members whose dependencies (decomposed tasks) are all done; members without any are always ready.
    const next = await tx.$queryRaw<Array<{ id: string; has_deps: boolean }>>`
      SELECT r.id, cardinality(coalesce(r.depends_on, '{}')) > 0 AS has_deps FROM runs r
      WHERE r.fleet_id = ${fleetId} AND r.status = 'queued' AND r.dispatched_at IS NULL
        AND NOT EXISTS (
          SELECT 1 FROM unnest(r.depends_on) AS d(id) LEFT JOIN runs x ON x.id = d.id
          WHERE x.id IS NULL OR x.status::text <> ALL (${[...DEPENDENCY_DONE]}::text[]))
      ORDER BY r.member_index
      LIMIT ${slots}`;
    if (next.length === 0) return [];
    // A subtask starts from the default branch as it is now, which holds the approved work it depends on.
    for (const member of next.filter((r) => r.has_deps)) {
      const run = await tx.run.findUniqueOrThrow({
        where: { id: member.id },
        select: { project: { select: { path: true, defaultBranch: true } } },
      });
      const head = await resolveCommit(run.project.path, run.project.defaultBranch);
      if (head)
        await tx.run.update({ where: { id: member.id }, data: { baseRef: run.project.defaultBranch, baseSha: head } });
    }
    const ids = next.map((r) => r.id);
    await tx.run.updateMany({
      where: { id: { in: ids }, status: "queued", dispatchedAt: null },
      data: { dispatchedAt: new Date() },
    });
    return ids;
  });
  for (const runId of picked) {
    try {
      await deps.scheduler.enqueue(runId);
    } catch (error) {
      await transitionRun(deps, runId, "failed", {
        from: ["queued"],
        reason: `Could not queue the run: ${(error as Error).message}`,
      });
    }
  }
  return picked;
}

/** Dispatches every running fleet with waiting members, oldest fleet first (a slot freed by one fleet may go to another). */
export async function dispatchWaitingFleets(deps: FleetRuntimeDeps): Promise<void> {
  const fleets = await deps.db.fleet.findMany({
    where: { status: "running", runs: { some: { status: "queued", dispatchedAt: null } } },
    orderBy: { createdAt: "asc" },
    select: { id: true },
  });
  for (const { id } of fleets) await dispatchFleet(deps, id);
}

/**
 * Claims a fleet member for its worker (queued → running) only while its fleet
 * is running, in one transaction with the fleet row share-locked, so a pause or
 * a stop either happens before (and the member does not start) or after.
 * A paused fleet's member goes back to waiting; an ended fleet's is cancelled.
 */
export async function claimFleetMember(deps: CoreDeps, runId: string, fleetId: string): Promise<boolean> {
  const now = new Date();
  const result = await deps.db.$transaction(async (tx) => {
    const [fleet] = await tx.$queryRaw<Array<{ status: string; reason: string | null }>>`
      SELECT status::text AS status, status_reason AS reason FROM fleets WHERE id = ${fleetId} FOR SHARE`;
    if (fleet && fleet.status === "paused") {
      await tx.run.updateMany({ where: { id: runId, status: "queued" }, data: { dispatchedAt: null } });
      return { claimed: false as const, cancel: null };
    }
    if (fleet && fleet.status !== "running")
      return { claimed: false as const, cancel: fleet.reason ?? `Fleet ${fleet.status}` };
    const { count } = await tx.run.updateMany({
      where: { id: runId, status: "queued" },
      data: { status: "running", statusReason: null, startedAt: now },
    });
    if (count === 0) return { claimed: false as const, cancel: null };
    return {
      claimed: true as const,
      events: await appendRunEvents(tx, null, runId, [{ type: "status", status: "running" }]),
    };
  });
  if (result.claimed) {
    await deps.notifier.runEvents(runId, result.events);
    await deps.notifier.runChanged(runId, "running");
    return true;
  }
  if (result.cancel) await transitionRun(deps, runId, "cancelled", { from: ["queued"], reason: result.cancel });
  return false;
}

/**
 * Brings a fleet up to date: spent totals, the budget (a spent budget ends the
 * fleet and stops its members), completion, and the next members to start.
 * Called after every member turn and end, and by the periodic sweep. Returns the
 * fleet's end reason when the fleet has been stopped (failed or cancelled).
 */
export async function fleetProgress(deps: FleetRuntimeDeps, fleetId: string): Promise<string | null> {
  // Research fleets have loops, not runs: research-fleets.ts keeps them (from the research workers).
  const kind = await deps.db.fleet.findUnique({ where: { id: fleetId }, select: { kind: true } });
  if (!kind || kind.kind === "research") return null;
  const fleet = await refreshSpent(deps, fleetId);
  if (!fleet) return null;
  if (fleet.status === "failed" || fleet.status === "cancelled") return fleet.statusReason ?? `fleet ${fleet.status}`;
  if (fleet.status === "running" || fleet.status === "paused") {
    const spent = budgetSpent(fleet);
    if (spent) {
      const reason = `fleet budget spent: ${spent}`;
      await stopFleet(deps, fleetId, { to: "failed", reason });
      return reason;
    }
  }
  await cancelBlocked(deps, fleetId);
  if (await completeIfSettled(deps, fleetId)) return null;
  await dispatchFleet(deps, fleetId);
  return null;
}

/**
 * Runs `fn` for `key`, coalesced: while a pass is in flight, callers share the
 * next one instead of each queuing its own (a pass after their call is all
 * they need). A fleet whose 1,000 members end together is brought up to date
 * a few times, not a thousand times one after another on its row lock.
 */
const passesByDb = new WeakMap<object, Map<string, { again: boolean; done: Promise<void> }>>();
function coalesced(db: object, key: string, fn: () => Promise<unknown>): Promise<void> {
  let passes = passesByDb.get(db);
  if (!passes) {
    passes = new Map();
    passesByDb.set(db, passes);
  }
  const current = passes.get(key);
  if (current) {
    current.again = true;
    return current.done;
  }
  const state = { again: false, done: Promise.resolve() };
  passes.set(key, state);
  state.done = (async () => {
    try {
      do {
        state.again = false;
        await fn();
      } while (state.again);
    } finally {
      passes.delete(key);
    }
  })();
  return state.done;
}

/**
 * `fleetProgress` for a member's turn or end, coalesced with the other members'
 * of this process: the fleet's end reason once it has been stopped, else null.
 */
export async function memberFleetProgress(deps: FleetRuntimeDeps, fleetId: string): Promise<string | null> {
  await coalesced(deps.db, `fleet:${fleetId}`, () => fleetProgress(deps, fleetId));
  const fleet = await deps.db.fleet.findUnique({
    where: { id: fleetId },
    select: { status: true, statusReason: true },
  });
  return fleet && (fleet.status === "failed" || fleet.status === "cancelled")
    ? (fleet.statusReason ?? `fleet ${fleet.status}`)
    : null;
}

/** After a member's run ended (or stopped for a human): update its fleet, then start whatever may start now. */
export async function fleetMemberSettled(deps: FleetRuntimeDeps, runId: string): Promise<void> {
  const run = await deps.db.run.findUnique({ where: { id: runId }, select: { fleetId: true } });
  if (!run?.fleetId) return;
  await memberFleetProgress(deps, run.fleetId);
  // A freed global slot may belong to another fleet's waiting member.
  await coalesced(deps.db, "waiting-fleets", () => dispatchWaitingFleets(deps));
}

/**
 * The periodic pass every worker makes: budgets (the wall clock runs out
 * without any event), completion, dispatch, and members whose job was lost
 * between the dispatch and the queue (a crash) are queued again.
 */
export async function sweepFleets(deps: FleetRuntimeDeps): Promise<void> {
  const open = await deps.db.fleet.findMany({
    where: { status: { in: OPEN_FLEET }, kind: { not: "research" } },
    orderBy: { createdAt: "asc" },
    select: { id: true },
  });
  for (const { id } of open) await fleetProgress(deps, id);
  const stale = await deps.db.run.findMany({
    where: {
      status: "queued",
      dispatchedAt: { lt: new Date(Date.now() - REQUEUE_AFTER_MS) },
      fleet: { status: "running" },
    },
    select: { id: true },
    take: 500,
  });
  for (const { id } of stale)
    await deps.scheduler.enqueue(id).catch((error: unknown) =>
      // Safe to go on: the member stays dispatched and the next sweep (every second) queues it again.
      fleetLog(deps)(`fleet member ${id}: could not queue its job again: ${(error as Error).message}`),
    );
}

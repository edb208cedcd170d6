import type { Db, Prisma } from "@loopy/db/client";
import type { RunStatus } from "./run-status.ts";

/** The states in which a run waits for a human: its waiting clock runs, its agent clock does not. */
export const WAITING_STATUSES: readonly RunStatus[] = ["awaiting_review", "needs_attention"];

/**
 * A run's three times, the only durations Loopy shows for a run (run page,
 * runs list, overview, inbox): wall clock from start mixed work with waiting
 * for people, so the same run read 12.7 s in one place and 38.1 s in another.
 * A clock that is still running is given by when it started (`agentSince`,
 * `waitingSince`), so every page shows the same figure and can tick it on;
 * `runTimesAt` adds it up.
 */
export interface RunTimes {
  /** The agent's turns, each from its start to its commit, ms (the turn under way not included). */
  agentMs: number;
  /** Every checkpoint of every turn, ms. */
  checksMs: number;
  /** Waits for a human (awaiting_review, needs_attention) that ended, ms. */
  waitingMs: number;
  /** When the turn under way started; null unless the agent is working now. */
  agentSince: Date | null;
  /** When the current wait for a human began; null unless the run waits now. */
  waitingSince: Date | null;
}

/** The three figures at `now` (ms since the epoch), running clocks included. */
export function runTimesAt(times: RunTimes, now: number): { agentMs: number; checksMs: number; waitingMs: number } {
  const since = (date: Date | null) => (date ? Math.max(0, now - new Date(date).getTime()) : 0);
  return {
    agentMs: times.agentMs + since(times.agentSince),
    checksMs: times.checksMs,
    waitingMs: times.waitingMs + since(times.waitingSince),
  };
}

/**
 * The times after a status change seen live (the overview's stream), until the
 * next snapshot brings the stored figures: leaving `running` stops the agent's
 * clock, entering a wait starts the waiting clock, leaving one stops it.
 */
export function runTimesAfter(times: RunTimes, to: string, at: Date): RunTimes {
  const next = { ...times };
  if (next.agentSince && to !== "running") {
    next.agentMs += Math.max(0, at.getTime() - new Date(next.agentSince).getTime());
    next.agentSince = null;
  } else if (!next.agentSince && to === "running") next.agentSince = at;
  const waiting = (WAITING_STATUSES as readonly string[]).includes(to);
  if (next.waitingSince && !waiting) {
    next.waitingMs += Math.max(0, at.getTime() - new Date(next.waitingSince).getTime());
    next.waitingSince = null;
  } else if (!next.waitingSince && waiting) next.waitingSince = at;
  return next;
}

/** What `loadRunTimes` needs of a run row (all in `runSummarySelect`). */
export interface RunClockRow {
  id: string;
  status: RunStatus;
  reviewWaitMs: number;
  waitingSince: Date | null;
}

/**
 * The times of many runs in two queries (their turns, their checkpoint sums),
 * for lists as long as the overview's. Turns and checkpoint results are what the
 * loop stores anyway; only the waits are kept on the run (by `recordWaiting`).
 */
export async function loadRunTimes(db: Db, runs: RunClockRow[]): Promise<Map<string, RunTimes>> {
  const ids = runs.map((r) => r.id);
  const [turns, checks] = ids.length
    ? await Promise.all([
        db.runTurn.findMany({
          where: { runId: { in: ids }, startedAt: { not: null } },
          select: { runId: true, startedAt: true, finishedAt: true },
        }),
        db.checkpointResult.groupBy({ by: ["runId"], where: { runId: { in: ids } }, _sum: { durationMs: true } }),
      ])
    : [[], []];
  const times = new Map<string, RunTimes>();
  for (const r of runs) {
    // A clock runs only in its state: a turn left open by a crash does not count on while the run waits or has ended.
    times.set(r.id, {
      agentMs: 0,
      checksMs: 0,
      waitingMs: r.reviewWaitMs,
      agentSince: null,
      waitingSince: WAITING_STATUSES.includes(r.status) ? r.waitingSince : null,
    });
  }
  const status = new Map(runs.map((r) => [r.id, r.status]));
  for (const t of turns) {
    const entry = times.get(t.runId)!;
    if (t.finishedAt) entry.agentMs += Math.max(0, t.finishedAt.getTime() - t.startedAt!.getTime());
    else if (status.get(t.runId) === "running") entry.agentSince = t.startedAt;
  }
  for (const c of checks) times.get(c.runId)!.checksMs = c._sum.durationMs ?? 0;
  return times;
}

/** Rows with their times attached, in one batch. */
export async function withRunTimes<T extends RunClockRow>(db: Db, rows: T[]): Promise<Array<T & { times: RunTimes }>> {
  const times = await loadRunTimes(db, rows);
  return rows.map((r) => ({ ...r, times: times.get(r.id)! }));
}

/**
 * Keeps the waiting clock when a run changes state, inside `transitionRun`'s
 * transaction (the run's row is locked by its update): a wait that ends is
 * added up, a wait that begins is stamped. Stored on the run because reading
 * it back from the status events would mean scanning every run's log.
 */
export async function recordWaiting(
  tx: Prisma.TransactionClient,
  runId: string,
  to: RunStatus,
  now: Date,
): Promise<void> {
  const run = await tx.run.findUnique({ where: { id: runId }, select: { waitingSince: true } });
  const ended = run?.waitingSince ? Math.max(0, now.getTime() - run.waitingSince.getTime()) : 0;
  await tx.run.update({
    where: { id: runId },
    data: { reviewWaitMs: { increment: ended }, waitingSince: WAITING_STATUSES.includes(to) ? now : null },
  });
}

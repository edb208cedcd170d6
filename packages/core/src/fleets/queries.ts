import type { Db, FleetStatus, Prisma } from "@loopy/db/client";
import { badInput, notFound } from "../shared/errors.ts";
import { SETTLED_STATUSES } from "./teardown.ts";
import { isEligible, parseMetric, rankMembers, type RankedMember } from "./rank.ts";
import { researchFleetMembers } from "./research-fleets.ts";

/** Reading fleets: the list with progress, one fleet with every member (checks, metric, rank), the ranking. */

const memberSelect = {
  id: true,
  memberIndex: true,
  status: true,
  statusReason: true,
  agent: true,
  branch: true,
  headSha: true,
  checksPassed: true,
  additions: true,
  deletions: true,
  costUsd: true,
  inputTokens: true,
  outputTokens: true,
  turns: true,
  dependsOn: true,
  logTail: true,
  worktreePath: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
  // Where the winner merged (and will merge), for the fleet page's confirmation and "merged as".
  mergedSha: true,
  project: { select: { id: true, name: true, defaultBranch: true } },
  task: {
    select: { id: true, title: true, tags: true, routedBy: true, agentProfile: { select: { id: true, name: true } } },
  },
} as const;

const fleetSelect = {
  id: true,
  name: true,
  kind: true,
  status: true,
  statusReason: true,
  concurrency: true,
  budgetUsd: true,
  budgetTokens: true,
  budgetMs: true,
  spentUsd: true,
  spentTokens: true,
  metricName: true,
  metricDirection: true,
  createdAt: true,
  finishedAt: true,
} as const;

type FleetRow = Prisma.FleetGetPayload<{ select: typeof fleetSelect }>;

export interface FleetProgress {
  total: number;
  /** Members that need a human or ended. */
  finished: number;
  byStatus: Partial<Record<string, number>>;
}

/** Research loops that ended: a research fleet's finished members. */
const LOOP_ENDED = ["completed", "failed", "cancelled"];

function progressOf(
  statuses: Array<{ status: string; n: number }>,
  finishedStatuses: readonly string[],
): FleetProgress {
  const byStatus: Partial<Record<string, number>> = {};
  let total = 0;
  let finished = 0;
  for (const { status, n } of statuses) {
    byStatus[status] = (byStatus[status] ?? 0) + n;
    total += n;
    if (finishedStatuses.includes(status)) finished += n;
  }
  return { total, finished, byStatus };
}

function summary(fleet: FleetRow, progress: FleetProgress) {
  const { budgetUsd, budgetTokens, budgetMs, spentUsd, spentTokens, metricName, metricDirection, ...rest } = fleet;
  return {
    ...rest,
    metric: metricName ? { name: metricName, direction: metricDirection as "min" | "max" } : null,
    budget: { usd: budgetUsd, tokens: budgetTokens, wallClockMs: budgetMs },
    spent: {
      usd: spentUsd,
      tokens: spentTokens,
      wallClockMs: (fleet.finishedAt ?? new Date()).getTime() - fleet.createdAt.getTime(),
    },
    progress,
  };
}

export type FleetSummary = ReturnType<typeof summary>;

/** Fleets, newest first, with progress counts. */
export async function listFleets(
  db: Db,
  input: { status?: FleetStatus; projectId?: string; limit?: number; cursor?: string } = {},
) {
  const limit = Math.min(Math.max(input.limit ?? 50, 1), 200);
  const rows = await db.fleet.findMany({
    where: { status: input.status, ...(input.projectId ? { runs: { some: { projectId: input.projectId } } } : {}) },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit + 1,
    ...(input.cursor ? { cursor: { id: input.cursor }, skip: 1 } : {}),
    select: fleetSelect,
  });
  const next = rows.length > limit ? rows.pop() : undefined;
  const research = rows.filter((f) => f.kind === "research").map((f) => f.id);
  const counts = rows.length
    ? await db.run.groupBy({
        by: ["fleetId", "status"],
        where: { fleetId: { in: rows.map((f) => f.id) } },
        _count: { _all: true },
      })
    : [];
  const loopCounts = research.length
    ? await db.researchLoop.groupBy({
        by: ["fleetId", "status"],
        where: { fleetId: { in: research } },
        _count: { _all: true },
      })
    : [];
  const fleets = rows.map((f) => {
    const research = f.kind === "research";
    const statuses = (research ? loopCounts : counts)
      .filter((c) => c.fleetId === f.id)
      .map((c) => ({ status: c.status as string, n: c._count._all }));
    return summary(f, progressOf(statuses, research ? LOOP_ENDED : SETTLED_STATUSES));
  });
  return { fleets, nextCursor: next ? (rows[rows.length - 1]?.id ?? null) : null };
}

async function loadMembers(db: Db, fleetId: string) {
  const runs = await db.run.findMany({ where: { fleetId }, orderBy: { memberIndex: "asc" }, select: memberSelect });
  // The latest turn's checkpoint results of every member, in one query.
  const results = runs.length
    ? await db.checkpointResult.findMany({
        where: { runId: { in: runs.map((r) => r.id) } },
        orderBy: [{ turnIndex: "asc" }, { createdAt: "asc" }],
        select: { runId: true, turnIndex: true, name: true, kind: true, required: true, passed: true, output: true },
      })
    : [];
  return runs.map((run) => {
    const mine = results.filter((r) => r.runId === run.id);
    const lastTurn = mine.reduce((n, r) => Math.max(n, r.turnIndex), -1);
    const checks = mine.filter((r) => r.turnIndex === lastTurn);
    return { run, checks };
  });
}

type LoadedMember = Awaited<ReturnType<typeof loadMembers>>[number];

function memberMetric(fleet: FleetRow, member: LoadedMember): number | null {
  if (!fleet.metricName) return null;
  // A checkpoint's output first (the measurement the checkpoint made), then the run's own output.
  for (const check of [...member.checks].reverse()) {
    const value = parseMetric(check.output, fleet.metricName);
    if (value !== null) return value;
  }
  return parseMetric(member.run.logTail, fleet.metricName);
}

/** Each member's view: state, checks, diff size, metric, and (best-of-N) rank with the reasons. */
function memberViews(fleet: FleetRow, loaded: LoadedMember[]) {
  const metric = fleet.metricName
    ? { name: fleet.metricName, direction: fleet.metricDirection as "min" | "max" }
    : null;
  const withMetric = loaded.map((m) => ({ ...m, metricValue: memberMetric(fleet, m) }));
  const ranking = new Map<string, RankedMember>();
  if (fleet.kind === "best_of_n") {
    const ranked = rankMembers(
      withMetric.map(({ run, metricValue }) => ({ ...run, memberIndex: run.memberIndex ?? 0, metricValue })),
      metric,
    );
    for (const r of ranked) ranking.set(r.runId, r);
  }
  return withMetric.map(({ run, checks, metricValue }) => {
    const { logTail: _logTail, ...rest } = run;
    const ranked = ranking.get(run.id);
    return {
      ...rest,
      memberIndex: run.memberIndex ?? 0,
      profile: run.task.agentProfile?.name ?? null,
      diffLines: run.additions === null && run.deletions === null ? null : (run.additions ?? 0) + (run.deletions ?? 0),
      checks: checks.map(({ name, kind, required, passed }) => ({ name, kind, required, passed })),
      metric: metricValue,
      rank: ranked?.rank ?? null,
      eligible: isEligible(run),
      rankReasons: ranked?.reasons ?? [],
    };
  });
}

/** A fleet with every member: state, checks, diff size, cost, metric and (best-of-N) rank with reasons. */
export async function getFleet(db: Db, fleetId: string) {
  const fleet = await db.fleet.findUnique({ where: { id: fleetId }, select: fleetSelect });
  if (!fleet) throw notFound(`No fleet "${fleetId}". List fleets with "loopy fleet list".`);
  const members = memberViews(fleet, await loadMembers(db, fleetId));
  if (fleet.kind === "research") {
    const loops = await researchFleetMembers(db, fleetId);
    const progress = progressOf(
      loops.map((l) => ({ status: l.status, n: 1 })),
      LOOP_ENDED,
    );
    return { ...summary(fleet, progress), members, loops };
  }
  const progress = progressOf(
    members.map((m) => ({ status: m.status, n: 1 })),
    SETTLED_STATUSES,
  );
  return { ...summary(fleet, progress), members, loops: [] as Awaited<ReturnType<typeof researchFleetMembers>> };
}

export type FleetView = Awaited<ReturnType<typeof getFleet>>;

/** Best-of-N members in rank order, each with its rank and the reasons for it. */
export async function rankFleet(db: Db, fleetId: string) {
  const fleet = await getFleet(db, fleetId);
  if (fleet.kind !== "best_of_n")
    throw badInput(`Fleet ${fleetId} is a ${fleet.kind} fleet; only best-of-N fleets are ranked`);
  const members = [...fleet.members].sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0));
  return {
    fleetId,
    metric: fleet.metric,
    members: members.map((m) => ({
      runId: m.id,
      memberIndex: m.memberIndex,
      rank: m.rank as number,
      eligible: m.eligible,
      reasons: m.rankReasons,
      status: m.status,
      agent: m.profile ?? m.agent,
      checksPassed: m.checksPassed,
      metric: m.metric,
      diffLines: m.diffLines,
      costUsd: m.costUsd,
    })),
  };
}

/** The fleet's state for a command on it; not found in words that say how to find one. */
export async function fleetState(db: Db, fleetId: string) {
  const fleet = await db.fleet.findUnique({
    where: { id: fleetId },
    select: { id: true, status: true, statusReason: true, name: true, kind: true },
  });
  if (!fleet) throw notFound(`No fleet "${fleetId}". List fleets with "loopy fleet list".`);
  return fleet;
}

import type { Db, Prisma } from "@loopy/db/client";
import { notFound } from "../shared/errors.ts";
import type { ExperimentStatus, LoopStatus } from "./events.ts";

/** Reading research loops: the rows the API shows, one loop or a list with counts. */

export const loopSummarySelect = {
  id: true,
  name: true,
  status: true,
  statusReason: true,
  command: true,
  metric: true,
  direction: true,
  budgetMs: true,
  hardKillMultiple: true,
  maxExperiments: true,
  wallClockMs: true,
  costLimitUsd: true,
  costUsd: true,
  proposer: true,
  paramsFile: true,
  seed: true,
  noiseRepeats: true,
  confirmRuns: true,
  slots: true,
  branch: true,
  baseRef: true,
  baseSha: true,
  bestExperimentId: true,
  bestCommit: true,
  bestMetric: true,
  noiseFloor: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
  project: { select: { id: true, name: true, path: true } },
  agentProfile: { select: { id: true, name: true, adapter: true } },
} as const;

export const loopDetailSelect = {
  ...loopSummarySelect,
  instructions: true,
  editableGlobs: true,
  protectedFiles: true,
  space: true,
  worktreePath: true,
  holder: true,
  heartbeatAt: true,
} as const;

export type LoopSummary = Prisma.ResearchLoopGetPayload<{ select: typeof loopSummarySelect }>;
export type LoopDetail = Prisma.ResearchLoopGetPayload<{ select: typeof loopDetailSelect }>;

export async function getLoop(db: Db, loopId: string): Promise<LoopDetail> {
  const loop = await db.researchLoop.findUnique({ where: { id: loopId }, select: loopDetailSelect });
  if (!loop) throw notFound(`No research loop "${loopId}". List them with "loopy research list".`);
  return loop;
}

export type LoopListItem = LoopSummary & { counts: Record<ExperimentStatus, number> & { total: number } };

/** Loops, newest first, with experiment counts by status (candidates and baseline). */
export async function listLoops(
  db: Db,
  input: { projectId?: string; status?: LoopStatus; limit?: number } = {},
): Promise<LoopListItem[]> {
  const loops = await db.researchLoop.findMany({
    where: { projectId: input.projectId, status: input.status },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: Math.min(Math.max(input.limit ?? 100, 1), 500),
    select: loopSummarySelect,
  });
  const groups = loops.length
    ? await db.experiment.groupBy({
        by: ["loopId", "status"],
        where: { loopId: { in: loops.map((l) => l.id) }, kind: { in: ["baseline", "candidate"] } },
        _count: { _all: true },
      })
    : [];
  return loops.map((loop) => {
    const counts = { queued: 0, running: 0, keep: 0, discard: 0, crash: 0, timeout: 0, flagged: 0, total: 0 };
    for (const g of groups) {
      if (g.loopId !== loop.id) continue;
      counts[g.status] += g._count._all;
      counts.total += g._count._all;
    }
    return { ...loop, counts };
  });
}

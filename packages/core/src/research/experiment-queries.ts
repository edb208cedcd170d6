import type { Db, Prisma } from "@loopy/db/client";
import { downsampleMinMax } from "@loopy/research-math/downsample";
import { notFound } from "../shared/errors.ts";

/** Reading a loop's experiments: the table with deltas and the running best, one experiment, its step series. */

export const experimentSummarySelect = {
  id: true,
  index: true,
  kind: true,
  status: true,
  reason: true,
  confirmsId: true,
  params: true,
  description: true,
  seed: true,
  commitSha: true,
  parentSha: true,
  additions: true,
  deletions: true,
  metricValue: true,
  memoryGb: true,
  exitCode: true,
  durationMs: true,
  costUsd: true,
  slot: true,
  attempt: true,
  createdAt: true,
  startedAt: true,
  endedAt: true,
} as const;

export type ExperimentSummary = Prisma.ExperimentGetPayload<{ select: typeof experimentSummarySelect }> & {
  /** Improvement over the loop's current best (positive is better), when both exist. */
  deltaVsBest: number | null;
  /** The best kept metric after this experiment (the progression chart's step line). */
  bestSoFar: number | null;
};

/**
 * A loop's experiments in order, each with its delta against the current best
 * and the running best. With confirm re-runs, a kept candidate counts with the
 * mean of its runs (and the baseline with the mean of its noise repeats), as
 * the loop judged them.
 */
export async function listExperiments(db: Db, loopId: string): Promise<ExperimentSummary[]> {
  const loop = await db.researchLoop.findUnique({
    where: { id: loopId },
    select: { direction: true, bestMetric: true, confirmRuns: true },
  });
  if (!loop) throw notFound(`No research loop "${loopId}". List them with "loopy research list".`);
  const rows = await db.experiment.findMany({
    where: { loopId },
    orderBy: { index: "asc" },
    select: experimentSummarySelect,
  });
  const sign = loop.direction === "min" ? -1 : 1;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const confirms = new Map<string, number[]>();
  for (const r of rows) {
    if (r.kind === "confirm" && r.confirmsId && r.metricValue !== null)
      confirms.set(r.confirmsId, [...(confirms.get(r.confirmsId) ?? []), r.metricValue]);
  }
  const baselineRuns = rows
    .filter((r) => (r.kind === "baseline" || r.kind === "noise") && r.status === "keep" && r.metricValue !== null)
    .map((r) => r.metricValue as number);
  const judged = (row: (typeof rows)[number]): number | null => {
    if (row.metricValue === null || loop.confirmRuns === 0) return row.metricValue;
    if (row.kind === "baseline") return mean(baselineRuns);
    const again = confirms.get(row.id);
    return again ? mean([row.metricValue, ...again]) : row.metricValue;
  };
  let best: number | null = null;
  return rows.map((row) => {
    const value = judged(row);
    if (row.status === "keep" && (row.kind === "baseline" || row.kind === "candidate") && value !== null) {
      if (best === null || sign * (value - best) > 0) best = value;
    }
    const deltaVsBest =
      row.metricValue !== null && loop.bestMetric !== null ? sign * (row.metricValue - loop.bestMetric) : null;
    return { ...row, deltaVsBest, bestSoFar: best };
  });
}

export const experimentDetailSelect = {
  ...experimentSummarySelect,
  loopId: true,
  diff: true,
  diffStats: true,
  metrics: true,
  logTail: true,
  loop: {
    select: {
      id: true,
      name: true,
      metric: true,
      direction: true,
      budgetMs: true,
      hardKillMultiple: true,
      bestMetric: true,
      bestExperimentId: true,
    },
  },
} as const;

export async function getExperiment(db: Db, experimentId: string) {
  const row = await db.experiment.findUnique({ where: { id: experimentId }, select: experimentDetailSelect });
  if (!row) throw notFound(`No experiment "${experimentId}"`);
  const sign = row.loop.direction === "min" ? -1 : 1;
  return {
    ...row,
    deltaVsBest:
      row.metricValue !== null && row.loop.bestMetric !== null ? sign * (row.metricValue - row.loop.bestMetric) : null,
  };
}

export interface PointSeries {
  name: string;
  /** Points stored for this series (before downsampling). */
  total: number;
  points: Array<{ step: number; value: number }>;
}

/**
 * An experiment's step series, each downsampled to at most `maxPoints` with
 * min/max buckets (about two per horizontal pixel: pass twice the chart's
 * width). `sinceId` returns only points stored after that id; `lastId` is the
 * newest point included, the place to resume from (also in research.events).
 */
export async function getPoints(
  db: Db,
  input: { experimentId: string; name?: string; sinceId?: string | null; maxPoints?: number },
): Promise<{ experimentId: string; lastId: string | null; series: PointSeries[] }> {
  const exists = await db.experiment.findUnique({ where: { id: input.experimentId }, select: { id: true } });
  if (!exists) throw notFound(`No experiment "${input.experimentId}"`);
  const maxPoints = Math.min(Math.max(input.maxPoints ?? 2000, 2), 20_000);
  const rows = await db.experimentPoint.findMany({
    where: {
      experimentId: input.experimentId,
      ...(input.name ? { name: input.name } : {}),
      ...(input.sinceId ? { id: { gt: BigInt(input.sinceId) } } : {}),
    },
    orderBy: [{ name: "asc" }, { step: "asc" }, { id: "asc" }],
    select: { id: true, name: true, step: true, value: true },
  });
  let lastId: bigint | null = null;
  const byName = new Map<string, Array<{ x: number; y: number }>>();
  for (const r of rows) {
    if (lastId === null || r.id > lastId) lastId = r.id;
    const list = byName.get(r.name) ?? [];
    if (!byName.has(r.name)) byName.set(r.name, list);
    list.push({ x: r.step, y: r.value });
  }
  const series = [...byName.entries()].map(([name, xs]) => ({
    name,
    total: xs.length,
    points: downsampleMinMax(xs, maxPoints).map((p) => ({ step: p.x, value: p.y })),
  }));
  return {
    experimentId: input.experimentId,
    lastId: lastId === null ? (input.sinceId ?? null) : lastId.toString(),
    series,
  };
}

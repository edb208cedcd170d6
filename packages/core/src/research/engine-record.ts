import type { Prisma } from "@loopy/db/client";
import type { Verdict } from "@loopy/research-math/plan";
import { appendResearchEvents, type ResearchEventData } from "./events.ts";
import type { Prepared } from "./engine-commit.ts";
import { type Ctx, type ExperimentRow, type LoopRow, push } from "./engine-context.ts";
import { advancesBest, confirmStatus, noiseUpdate } from "./engine-decisions.ts";
import type { MeasureResult } from "./measure.ts";

type Tx = Prisma.TransactionClient;

export interface Outcome {
  verdict: Verdict;
  /** The first measurement; null when the change was refused before anything ran. */
  result: MeasureResult | null;
  confirms: Array<{ id: string; result: MeasureResult }>;
  prepared: Prepared;
}

function finiteMetrics(summary: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(summary).filter(([, v]) => Number.isFinite(v)));
}

/**
 * Records an experiment's outcome and what it means for the loop in one
 * transaction, conditional on the claim: the row, its confirm re-runs, the
 * new best (keep), the noise floor (after the last noise run). A worker that
 * lost its claim writes nothing.
 */
export async function conclude(
  ctx: Ctx,
  loop: LoopRow,
  experiment: ExperimentRow,
  token: string,
  outcome: Outcome,
): Promise<void> {
  const { verdict, result, prepared } = outcome;
  const stored = await ctx.deps.db.$transaction(async (tx) => {
    const { count } = await tx.experiment.updateMany({
      where: { id: experiment.id, claimToken: token, status: "running" },
      data: {
        status: verdict.status,
        reason: verdict.reason,
        description: prepared.description,
        metricValue: result?.measurement.value ?? null,
        metrics: result ? finiteMetrics(result.summary) : undefined,
        memoryGb: result?.memoryGb ?? null,
        logTail: result?.logTail ?? null,
        exitCode: result?.exitCode ?? null,
        durationMs: result?.durationMs ?? null,
        ...(result ? { startedAt: result.startedAt, endedAt: result.endedAt } : { endedAt: new Date() }),
      },
    });
    if (count === 0) return null;
    const events: ResearchEventData[] = [
      {
        type: "experiment",
        experimentId: experiment.id,
        index: experiment.index,
        kind: experiment.kind,
        status: verdict.status,
        metric: result?.measurement.value ?? null,
        reason: verdict.reason,
        description: prepared.description,
        commit: prepared.commit,
      },
    ];
    events.push(...(await recordConfirms(tx, experiment, token, outcome)));
    events.push(...(await updateLoop(tx, ctx, loop, experiment, outcome)));
    return appendResearchEvents(tx, null, ctx.loopId, events);
  });
  await push(ctx, stored);
}

/** Each confirm re-run's own outcome (under the candidate's claim). */
async function recordConfirms(
  tx: Tx,
  experiment: ExperimentRow,
  token: string,
  { verdict, confirms }: Outcome,
): Promise<ResearchEventData[]> {
  const events: ResearchEventData[] = [];
  for (const c of confirms) {
    const m = c.result.measurement;
    const status = confirmStatus(m, verdict);
    await tx.experiment.updateMany({
      where: { id: c.id, claimToken: token },
      data: {
        status,
        reason: m.reason ?? `confirm re-run of #${experiment.index}`,
        metricValue: m.value,
        metrics: finiteMetrics(c.result.summary),
        memoryGb: c.result.memoryGb,
        logTail: c.result.logTail,
        exitCode: c.result.exitCode,
        durationMs: c.result.durationMs,
        startedAt: c.result.startedAt,
        endedAt: c.result.endedAt,
      },
    });
    const row = await tx.experiment.findUniqueOrThrow({ where: { id: c.id }, select: { index: true } });
    events.push({
      type: "experiment",
      experimentId: c.id,
      index: row.index,
      kind: "confirm",
      status,
      metric: m.value,
      reason: m.reason ?? null,
    });
  }
  return events;
}

/**
 * The loop's new best (a kept baseline or candidate) and, after the last
 * baseline or noise run, its noise floor; written only while this worker holds
 * the loop (else the whole transaction is rolled back and the loop fails).
 */
async function updateLoop(
  tx: Tx,
  ctx: Ctx,
  loop: LoopRow,
  experiment: ExperimentRow,
  { verdict, prepared }: Outcome,
): Promise<ResearchEventData[]> {
  const events: ResearchEventData[] = [];
  const loopData: Record<string, unknown> = {};
  if (advancesBest(experiment.kind, verdict) && verdict.value !== null) {
    Object.assign(loopData, {
      bestExperimentId: experiment.id,
      bestCommit: prepared.commit,
      bestMetric: verdict.value,
    });
    events.push({
      type: "best",
      experimentId: experiment.id,
      index: experiment.index,
      metric: verdict.value,
      commit: prepared.commit,
    });
  }
  if (experiment.kind === "baseline" || experiment.kind === "noise") {
    const measured = await tx.experiment.findMany({
      where: { loopId: loop.id, kind: { in: ["baseline", "noise"] } },
      select: { kind: true, status: true, metricValue: true },
    });
    const noise = noiseUpdate(measured, loop);
    if (noise) {
      loopData.noiseFloor = noise.floor;
      events.push({ type: "noise_floor", value: noise.floor, measurements: noise.measurements });
      if (noise.bestMetric !== undefined) loopData.bestMetric = noise.bestMetric;
    }
  }
  if (Object.keys(loopData).length) {
    const held = await tx.researchLoop.updateMany({
      where: { id: loop.id, holder: ctx.deps.holder },
      data: loopData,
    });
    if (held.count === 0) throw new Error("lost the loop while recording an experiment");
  }
  return events;
}

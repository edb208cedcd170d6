import { hostname } from "node:os";
import { confirmSeeds } from "@loopy/research-math/plan";
import { newId } from "../shared/ids.ts";
import { checkRules, type Prepared, prepare, reusePrepared } from "./engine-commit.ts";
import { type Ctx, type ExperimentRow, type LoopRow, logOf, record, resetTo } from "./engine-context.ts";
import { advancesBest, decide } from "./engine-decisions.ts";
import { conclude, type Outcome } from "./engine-record.ts";
import { type MeasureInput, type MeasureResult, measure } from "./measure.ts";
import { acquireSlot, releaseSlots } from "./slots.ts";

/**
 * Runs one experiment under a claim: prepare the change (params file or agent
 * edit) and commit it, check the rules, hold a slot, measure, confirm if asked,
 * judge, and record the outcome together with the loop's new best.
 */
export async function runExperiment(ctx: Ctx, loop: LoopRow, experiment: ExperimentRow): Promise<void> {
  const token = await claimExperiment(ctx, experiment);
  if (!token) return;
  const best = loop.bestCommit ?? loop.baseSha;
  if (ctx.cleanAt !== best) await resetTo(ctx, best);
  const { commitSha } = experiment;
  const prepared = commitSha
    ? await reusePrepared(ctx, { ...experiment, commitSha }, best, token)
    : await prepare(ctx, loop, experiment, best, token);
  if (prepared.cancelled) return;
  const seed = experiment.seed ?? loop.seed;
  if (!prepared.refused) prepared.refused = (await checkRules(ctx, loop, prepared)) ?? undefined;
  if (prepared.refused) {
    await prepared.details;
    const verdict = { status: "crash" as const, delta: null, reason: prepared.refused, value: null };
    await Promise.all([
      conclude(ctx, loop, experiment, token, { verdict, result: null, confirms: [], prepared }),
      resetTo(ctx, best),
    ]);
    return;
  }

  const held = await holdSlot(ctx, loop, experiment, token);
  if (!held) return; // stopped while waiting
  const { slot } = held;
  try {
    const outcome = await measureAndJudge(ctx, loop, experiment, token, prepared, { seed, slot });
    if (!outcome) return;
    // The worktree goes back to the (new) best while the outcome is being recorded.
    const kept = advancesBest(experiment.kind, outcome.verdict);
    await prepared.details;
    await Promise.all([conclude(ctx, loop, experiment, token, outcome), resetTo(ctx, kept ? prepared.commit : best)]);
  } finally {
    await tidyAfter(ctx, loop, experiment, slot, best);
  }
}

/** Claims a queued experiment (one more attempt) and says so; null when someone else has it. */
async function claimExperiment(ctx: Ctx, experiment: ExperimentRow): Promise<string | null> {
  const token = newId();
  const { count } = await ctx.deps.db.experiment.updateMany({
    where: { id: experiment.id, status: "queued" },
    data: { status: "running", claimToken: token, attempt: { increment: 1 }, host: hostname() },
  });
  if (count === 0) return null;
  await record(ctx, [
    {
      type: "experiment",
      experimentId: experiment.id,
      index: experiment.index,
      kind: experiment.kind,
      status: "running",
      metric: null,
      description: experiment.description,
    },
  ]);
  return token;
}

/** Waits for one of the loop's slots (none needed when it names none); null when the loop stopped meanwhile. */
async function holdSlot(
  ctx: Ctx,
  loop: LoopRow,
  experiment: ExperimentRow,
  token: string,
): Promise<{ slot: string | null } | null> {
  const slots = (loop.slots as string[] | null) ?? [];
  if (!slots.length) return { slot: null };
  const { db } = ctx.deps;
  const slot = await acquireSlot(
    db,
    slots,
    {
      projectId: loop.projectId,
      loopId: loop.id,
      experimentId: experiment.id,
      holder: ctx.deps.holder,
      leaseMs: ctx.deps.leaseMs,
    },
    ctx.signal,
  );
  if (!slot) return null;
  await db.experiment.updateMany({
    where: { id: experiment.id, claimToken: token, status: "running" },
    data: { slot },
  });
  return { slot };
}

/**
 * Measures the experiment and judges it; a candidate that looks like a keep
 * runs again with the confirm seeds (when the loop asks) and is judged on the
 * mean. Null when the loop stopped during a measurement.
 */
async function measureAndJudge(
  ctx: Ctx,
  loop: LoopRow,
  experiment: ExperimentRow,
  token: string,
  prepared: Prepared,
  run: { seed: number; slot: string | null },
): Promise<Outcome | null> {
  const base: Omit<MeasureInput, "experiment" | "token" | "seed"> = {
    db: ctx.deps.db,
    notifier: ctx.deps.researchNotifier,
    loop,
    worktree: ctx.worktree,
    slot: run.slot,
    signal: ctx.signal,
    params: experiment.params,
    confinement: { deps: ctx.deps, repo: ctx.repo, allowHosts: ctx.egressHosts },
  };
  ctx.cleanAt = null; // the experiment may write anywhere in the worktree
  const first = await measure({ ...base, experiment, token, seed: run.seed });
  if (first.cancelled) return null;
  let verdict = decide(loop, experiment.kind, first.measurement, []);
  const confirms: Outcome["confirms"] = [];
  if (experiment.kind === "candidate" && verdict.status === "keep" && loop.confirmRuns > 0) {
    const done = await runConfirms(ctx, loop, experiment, token, prepared, base, confirms);
    if (!done) return null;
    verdict = decide(
      loop,
      experiment.kind,
      first.measurement,
      confirms.map((c) => c.result.measurement),
    );
  }
  return { verdict, result: first, confirms, prepared };
}

/** The confirm re-runs, each a row of its own under the candidate's claim; false when the loop stopped. */
async function runConfirms(
  ctx: Ctx,
  loop: LoopRow,
  experiment: ExperimentRow,
  token: string,
  prepared: Prepared,
  base: Omit<MeasureInput, "experiment" | "token" | "seed">,
  confirms: Array<{ id: string; result: MeasureResult }>,
): Promise<boolean> {
  const { db } = ctx.deps;
  let nextIndex =
    (await db.experiment.aggregate({ where: { loopId: loop.id }, _max: { index: true } }))._max.index ??
    experiment.index;
  for (const confirmSeed of confirmSeeds(loop.seed, loop.confirmRuns)) {
    nextIndex += 1;
    const description = `confirm #${experiment.index}, seed ${confirmSeed}`;
    const row = await db.experiment.create({
      data: {
        id: newId(),
        loopId: loop.id,
        index: nextIndex,
        kind: "confirm",
        status: "running",
        confirmsId: experiment.id,
        seed: confirmSeed,
        params: experiment.params ?? undefined,
        description,
        commitSha: prepared.commit,
        parentSha: prepared.parent,
        claimToken: token,
        attempt: 1,
        host: hostname(),
        slot: base.slot,
      },
      select: { id: true, index: true },
    });
    await record(ctx, [
      {
        type: "experiment",
        experimentId: row.id,
        index: row.index,
        kind: "confirm",
        status: "running",
        metric: null,
        description,
        slot: base.slot,
      },
    ]);
    const result = await measure({ ...base, experiment: row, token, seed: confirmSeed });
    if (result.cancelled) return false;
    confirms.push({ id: row.id, result });
  }
  return true;
}

/**
 * After a measured experiment, however it ended: its slot goes and the
 * worktree is back on the loop's best. Both best effort (logged): an unreleased
 * slot lease expires after leaseMs, and a worktree left elsewhere is reset
 * before the next experiment (ctx.cleanAt no longer matches the best).
 */
async function tidyAfter(
  ctx: Ctx,
  loop: LoopRow,
  experiment: ExperimentRow,
  slot: string | null,
  best: string,
): Promise<void> {
  const log = logOf(ctx.deps);
  if (slot)
    await releaseSlots(ctx.deps.db, { experimentId: experiment.id }).catch((error: Error) =>
      log(`research loop ${loop.id}: releasing slot ${slot} of #${experiment.index} failed: ${error.message}`),
    );
  const after = await ctx.deps.db.researchLoop.findUnique({ where: { id: loop.id }, select: { bestCommit: true } });
  const target = after?.bestCommit ?? best;
  if (ctx.cleanAt !== target)
    await resetTo(ctx, target).catch((error: Error) =>
      log(`research loop ${loop.id}: resetting the worktree after #${experiment.index} failed: ${error.message}`),
    );
}

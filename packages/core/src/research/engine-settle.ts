import { resetWorkspace } from "../projects/workspace.ts";
import { appendResearchEvents } from "./events.ts";
import { releaseLoopSlots } from "./engine-claim.ts";
import { type Ctx, logOf, newCtx, push, record, type ResearchEngineDeps, workspaceOf } from "./engine-context.ts";
import { type Ending, settleAction } from "./engine-decisions.ts";
import { requeued } from "./engine-recover.ts";
import { finishLoop } from "./loop-control.ts";
import { releaseSlots } from "./slots.ts";
import { dropLoopWorktree, killOrphanExperiment } from "./worktree.ts";

const HANDED_OVER = "re-run: its worker shut down mid-experiment";

/**
 * After the main loop: end the loop (its worktree goes first, so whoever sees
 * the end state sees a finished loop), hand it over (shutdown), or clean up
 * after a loop someone else ended (a cancel).
 */
export async function settle(ctx: Ctx, ending: Ending | null, shutdown: boolean): Promise<void> {
  const { db, holder } = ctx.deps;
  const loop = await db.researchLoop.findUnique({ where: { id: ctx.loopId }, select: { status: true, holder: true } });
  if (!loop) return;
  const action = settleAction(loop, holder, ending, shutdown);
  if (action === "hand-over") {
    await handOver(ctx);
    return;
  }
  await releaseLoopSlots(ctx.deps, ctx.loopId);
  if (action === "leave") return;
  await cleanUp(ctx, ending?.reason);
  if (action === "tidy-and-end" && ending)
    await finishLoop(ctx.deps, ctx.loopId, ending.to, ending.reason, ["running"], { holder });
}

/**
 * Hand over: the experiment goes back to the queue without costing an
 * attempt, and the loop is free to claim at once.
 */
async function handOver(ctx: Ctx): Promise<void> {
  const { db, holder } = ctx.deps;
  const stored = await db.$transaction(async (tx) => {
    const back = await tx.experiment.findMany({
      where: { loopId: ctx.loopId, status: "running", kind: { not: "confirm" } },
      select: { id: true, index: true, kind: true },
    });
    await tx.experiment.deleteMany({
      where: { loopId: ctx.loopId, kind: "confirm", confirmsId: { in: back.map((b) => b.id) } },
    });
    await tx.experimentPoint.deleteMany({ where: { experimentId: { in: back.map((b) => b.id) } } });
    await tx.experiment.updateMany({
      where: { id: { in: back.map((b) => b.id) } },
      data: { ...requeued, attempt: { decrement: 1 }, reason: HANDED_OVER },
    });
    await tx.researchLoop.updateMany({
      where: { id: ctx.loopId, holder },
      data: { holder: null, heartbeatAt: null },
    });
    return appendResearchEvents(tx, null, ctx.loopId, [
      ...back.map((b) => ({
        type: "experiment" as const,
        experimentId: b.id,
        index: b.index,
        kind: b.kind,
        status: "queued" as const,
        metric: null,
        reason: HANDED_OVER,
      })),
      { type: "loop", status: "running", reason: "released by a worker that shut down; the next worker resumes it" },
    ]);
  });
  await push(ctx, stored);
  await releaseSlots(db, { holder, loopId: ctx.loopId });
}

/**
 * What an ending loop leaves tidy: experiments still "running" are recorded
 * as crashed (once, by their claim), processes they left are killed, slots
 * released, the worktree reset to the best commit and removed (the branch stays).
 */
async function cleanUp(ctx: Ctx, reason?: string): Promise<void> {
  const { db } = ctx.deps;
  const after = await db.researchLoop.findUnique({
    where: { id: ctx.loopId },
    select: { status: true, statusReason: true, bestCommit: true, baseSha: true },
  });
  if (!after) return;
  const why =
    reason ??
    (after.status === "cancelled"
      ? "cancelled with its loop"
      : `stopped: the loop ${after.status}${after.statusReason ? ` (${after.statusReason})` : ""}`);
  await crashOrphans(ctx, why);
  await db.researchSlotLease.deleteMany({ where: { loopId: ctx.loopId } });
  // The reset also moves the loop's branch to the best commit. Best effort: the worktree goes next either way, and
  // a branch left on the last experiment's commit only shows that commit first (the best stays on the loop's row).
  await resetWorkspace(workspaceOf(ctx), after.bestCommit ?? after.baseSha).catch((error: Error) =>
    logOf(ctx.deps)(`research loop ${ctx.loopId}: resetting its worktree before removing it failed: ${error.message}`),
  );
  await dropLoopWorktree(ctx.repo, ctx.worktree);
  await db.researchLoop.update({ where: { id: ctx.loopId }, data: { worktreePath: null } });
}

/** Kills what experiments still "running" left, and records each as crashed (once, by its claim). */
async function crashOrphans(ctx: Ctx, why: string): Promise<void> {
  const { db } = ctx.deps;
  const orphans = await db.experiment.findMany({
    where: { loopId: ctx.loopId, status: "running" },
    select: { id: true, index: true, kind: true, claimToken: true, pid: true, host: true },
  });
  for (const o of orphans) killOrphanExperiment(o.pid, o.host, ctx.worktree);
  for (const o of orphans) {
    const { count } = await db.experiment.updateMany({
      where: { id: o.id, status: "running", claimToken: o.claimToken },
      data: { status: "crash", reason: why, endedAt: new Date(), claimToken: null },
    });
    if (count)
      await record(ctx, [
        {
          type: "experiment",
          experimentId: o.id,
          index: o.index,
          kind: o.kind,
          status: "crash",
          metric: null,
          reason: why,
        },
      ]);
  }
}

/**
 * Tidies a loop that ended while no live worker held it (cancelled while its
 * worker was down): the sweep of any worker calls this once the last holder's
 * lease has run out.
 */
export async function cleanUpEndedLoop(deps: ResearchEngineDeps, loopId: string): Promise<void> {
  const loop = await deps.db.researchLoop.findUnique({
    where: { id: loopId },
    select: { status: true, branch: true, project: { select: { path: true } } },
  });
  if (!loop || !["completed", "failed", "cancelled"].includes(loop.status)) return;
  const ctx = newCtx(
    deps,
    loopId,
    { repo: loop.project.path, branch: loop.branch, egressHosts: [] },
    new AbortController().signal,
  );
  await cleanUp(ctx);
}

import type { Prisma } from "@loopy/db/client";
import { appendResearchEvents } from "./events.ts";
import { type Ctx, MAX_ATTEMPTS, push } from "./engine-context.ts";
import { recoveryOf } from "./engine-decisions.ts";
import { killOrphanExperiment } from "./worktree.ts";

/** Fields of an experiment put back in the queue: nothing of the interrupted attempt survives. */
export const requeued = {
  status: "queued" as const,
  claimToken: null,
  pid: null,
  host: null,
  slot: null,
  startedAt: null,
  endedAt: null,
  logTail: null,
  exitCode: null,
  durationMs: null,
  metricValue: null,
  metrics: undefined,
  memoryGb: null,
};

/**
 * Deals with experiments left "running" by a worker that died: kills what they
 * left running, then, in one transaction conditional on the old claim, puts
 * each back in the queue (dropping its partial points and confirm re-runs) or,
 * after MAX_ATTEMPTS claims, records it as crashed.
 */
export async function recoverInterrupted(ctx: Ctx): Promise<void> {
  const { db } = ctx.deps;
  const running = await db.experiment.findMany({
    where: { loopId: ctx.loopId, status: "running" },
    select: {
      id: true,
      index: true,
      kind: true,
      attempt: true,
      claimToken: true,
      pid: true,
      host: true,
      confirmsId: true,
    },
  });
  for (const e of running) killOrphanExperiment(e.pid, e.host, ctx.worktree);
  for (const e of running) {
    const recovery = recoveryOf(e, running, MAX_ATTEMPTS);
    if (!recovery) continue; // a confirm re-run: handled with its candidate
    const { again, reason } = recovery;
    const stored = await db.$transaction(async (tx) => {
      const { count } = await tx.experiment.updateMany({
        where: { id: e.id, status: "running", claimToken: e.claimToken },
        data: again ? { ...requeued, reason } : { status: "crash", reason, endedAt: new Date(), claimToken: null },
      });
      if (count === 0) return null;
      if (again) await dropAttempt(tx, e.id);
      else await crashConfirms(tx, e.id, reason);
      return appendResearchEvents(tx, null, ctx.loopId, [
        {
          type: "experiment",
          experimentId: e.id,
          index: e.index,
          kind: e.kind,
          status: again ? "queued" : "crash",
          metric: null,
          reason,
        },
      ]);
    });
    await push(ctx, stored);
  }
}

/** A re-run starts afresh: the attempt's points, confirm re-runs and slot lease go. */
async function dropAttempt(tx: Prisma.TransactionClient, experimentId: string): Promise<void> {
  const confirms = (await tx.experiment.findMany({ where: { confirmsId: experimentId }, select: { id: true } })).map(
    (c) => c.id,
  );
  await tx.experimentPoint.deleteMany({ where: { experimentId: { in: [experimentId, ...confirms] } } });
  await tx.experiment.deleteMany({ where: { id: { in: confirms } } });
  await tx.researchSlotLease.deleteMany({ where: { experimentId: { in: [experimentId, ...confirms] } } });
}

/** A crashed candidate's running confirm re-runs crash with it; its slot lease goes. */
async function crashConfirms(tx: Prisma.TransactionClient, experimentId: string, reason: string): Promise<void> {
  await tx.experiment.updateMany({
    where: { confirmsId: experimentId, status: "running" },
    data: { status: "crash", reason, endedAt: new Date(), claimToken: null },
  });
  await tx.researchSlotLease.deleteMany({ where: { experimentId } });
}

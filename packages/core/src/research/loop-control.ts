import { conflict } from "../shared/errors.ts";
import { appendResearchEvents, type LoopStatus } from "./events.ts";
import { getLoop, type LoopDetail } from "./loop-queries.ts";
import type { ResearchDeps, ResearchLaunchDeps } from "./ports.ts";

/** A loop's status changes: ending it (the engine and users), cancel, pause and resume. */

const TERMINAL: LoopStatus[] = ["completed", "failed", "cancelled"];

/**
 * Ends a loop (conditional on its current status) and records the change as
 * an event. Returns false when the loop was not in one of `from`.
 */
export async function finishLoop(
  deps: ResearchDeps,
  loopId: string,
  to: LoopStatus,
  reason: string | undefined,
  from: LoopStatus[],
  extra: { holder?: string } = {},
): Promise<boolean> {
  // heartbeat_at stays: it tells a sweeping worker whether the last holder may still be tidying up.
  const stored = await deps.db.$transaction(async (tx) => {
    const { count } = await tx.researchLoop.updateMany({
      where: { id: loopId, status: { in: from }, ...(extra.holder ? { holder: extra.holder } : {}) },
      data: {
        status: to,
        statusReason: reason ?? null,
        ...(TERMINAL.includes(to) ? { finishedAt: new Date(), holder: null } : {}),
      },
    });
    if (count === 0) return null;
    return appendResearchEvents(tx, null, loopId, [{ type: "loop", status: to, ...(reason ? { reason } : {}) }]);
  });
  if (!stored) return false;
  await deps.researchNotifier.loopEvents(loopId, stored);
  await deps.researchNotifier.loopChanged(loopId, to);
  return true;
}

/**
 * Cancels a loop. A queued loop ends at once and its job goes. A running one
 * ends cancelled now (the row is the truth) and its worker is told to kill the
 * experiment's process group; it records the experiment and resets the worktree.
 */
export async function cancelResearchLoop(deps: ResearchLaunchDeps, loopId: string): Promise<LoopDetail> {
  const loop = await getLoop(deps.db, loopId);
  if (TERMINAL.includes(loop.status))
    throw conflict(`Research loop ${loopId} already ended (${loop.status}); nothing to cancel`);
  if (loop.status === "queued") {
    await deps.researchScheduler.remove(loopId);
    if (await finishLoop(deps, loopId, "cancelled", "Cancelled before it started", ["queued"]))
      return getLoop(deps.db, loopId);
  }
  await appendResearchEvents(deps.db, deps.researchNotifier, loopId, [{ type: "cancel_requested" }]);
  await finishLoop(deps, loopId, "cancelled", "Cancelled by a user", ["queued", "running", "paused"]);
  await deps.researchScheduler.requestCancel(loopId);
  return getLoop(deps.db, loopId);
}

/**
 * Pauses a loop: the experiment in progress finishes and is recorded, then no
 * new one starts; the worker lets go of the loop and its worktree stays.
 */
export async function pauseResearchLoop(deps: ResearchLaunchDeps, loopId: string): Promise<LoopDetail> {
  const loop = await getLoop(deps.db, loopId);
  if (loop.status === "paused") return loop;
  if (loop.status !== "running" && loop.status !== "queued")
    throw conflict(`Research loop ${loopId} is ${loop.status}; only a queued or running loop can be paused`);
  const stored = await deps.db.$transaction(async (tx) => {
    const { count } = await tx.researchLoop.updateMany({
      where: { id: loopId, status: { in: ["running", "queued"] } },
      data: { status: "paused", statusReason: "Paused by a user" },
    });
    if (count === 0) return null;
    return appendResearchEvents(tx, null, loopId, [
      {
        type: "loop",
        status: "paused",
        reason: loop.status === "running" ? "pausing: the experiment in progress finishes first" : "Paused by a user",
      },
    ]);
  });
  if (!stored) throw conflict(`Research loop ${loopId} changed state; try again`);
  await deps.researchNotifier.loopEvents(loopId, stored);
  await deps.researchNotifier.loopChanged(loopId, "paused");
  // A queued loop's job would only find it paused; take it off the queue.
  if (loop.status === "queued") await deps.researchScheduler.remove(loopId);
  return getLoop(deps.db, loopId);
}

/** Resumes a paused loop: its worker carries on if it still holds it, else the loop is queued for the next free worker. */
export async function resumeResearchLoop(deps: ResearchLaunchDeps, loopId: string): Promise<LoopDetail> {
  const loop = await getLoop(deps.db, loopId);
  if (loop.status === "running" || loop.status === "queued") return loop;
  if (loop.status !== "paused")
    throw conflict(`Research loop ${loopId} is ${loop.status}; only a paused loop can be resumed`);
  const result = await deps.db.$transaction(async (tx) => {
    // Still held (its experiment is finishing): the holder simply goes on.
    const held = await tx.researchLoop.updateMany({
      where: { id: loopId, status: "paused", holder: { not: null } },
      data: { status: "running", statusReason: null },
    });
    if (held.count > 0)
      return {
        to: "running" as const,
        events: await appendResearchEvents(tx, null, loopId, [{ type: "loop", status: "running", reason: "resumed" }]),
      };
    const free = await tx.researchLoop.updateMany({
      where: { id: loopId, status: "paused", holder: null },
      data: { status: "queued", statusReason: null },
    });
    if (free.count > 0)
      return {
        to: "queued" as const,
        events: await appendResearchEvents(tx, null, loopId, [{ type: "loop", status: "queued", reason: "resumed" }]),
      };
    return null;
  });
  if (!result) throw conflict(`Research loop ${loopId} changed state; try again`);
  await deps.researchNotifier.loopEvents(loopId, result.events);
  await deps.researchNotifier.loopChanged(loopId, result.to);
  // Queued in both cases: if its holder died while the loop was paused, the job takes it over once the lease runs out
  // (a live holder keeps it, and the job finds nothing to do).
  await deps.researchScheduler.enqueue(loopId);
  return getLoop(deps.db, loopId);
}

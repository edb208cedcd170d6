import type { Prisma } from "@loopy/db/client";
import { newId } from "../shared/ids.ts";
import { appendResearchEvents } from "./events.ts";
import { finishLoop } from "./loop-control.ts";
import { getLoop, type LoopDetail } from "./loop-queries.ts";
import { type CreateResearchLoopInput, type PreparedLoop, prepareResearchLoop } from "./loop-validate.ts";
import type { ResearchLaunchDeps } from "./ports.ts";

/**
 * Creates a research loop: validates everything a worker would trip over later
 * (project, command, metric, direction, budget, search space or agent profile,
 * editable globs that match files, protected files that exist), writes the loop
 * row (queued) and only then queues its job, whose id is the loop id. Nothing is
 * written on bad input.
 */
export async function createResearchLoop(
  deps: ResearchLaunchDeps,
  input: CreateResearchLoopInput,
): Promise<LoopDetail> {
  const prepared = await prepareResearchLoop(deps, input);
  const id = newId();
  await deps.db.$transaction(async (tx) => {
    await writeResearchLoop(tx, prepared, id);
  });
  await deps.researchNotifier.loopChanged(id, "queued");
  try {
    await deps.researchScheduler.enqueue(id);
  } catch (error) {
    await finishLoop(deps, id, "failed", `Could not queue the loop: ${(error as Error).message}`, ["queued"]);
  }
  return getLoop(deps.db, id);
}

/** Writes a prepared loop (queued) and its first event inside the caller's transaction; fleet members wait for their dispatcher. */
export async function writeResearchLoop(
  tx: Prisma.TransactionClient,
  prepared: PreparedLoop,
  id: string,
  fleet?: { fleetId: string; memberIndex: number },
) {
  await tx.researchLoop.create({
    data: {
      ...prepared,
      id,
      branch: `loopy/research-${id}`,
      ...(fleet ? { fleetId: fleet.fleetId, memberIndex: fleet.memberIndex } : {}),
    },
  });
  await appendResearchEvents(tx, null, id, [{ type: "loop", status: "queued" }]);
}

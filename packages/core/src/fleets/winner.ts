import { AppError, badInput, conflict } from "../shared/errors.ts";
import type { Approver } from "../review/merge-message.ts";
import { approveRun, rejectRun, type PendingCommentsChoice } from "../review/review.ts";
import { fleetLog, type FleetDeps } from "./model.ts";
import { fleetState, rankFleet } from "./queries.ts";

type RankedMember = Awaited<ReturnType<typeof rankFleet>>["members"][number];

/**
 * Approves the best member of a best-of-N fleet (or the one chosen) through the
 * normal approval (merge), then rejects every other member waiting for review.
 * The winner's comments not sent yet refuse it as `approveRun` does, unless discarded.
 */
export async function approveWinner(
  deps: FleetDeps,
  fleetId: string,
  runId?: string,
  options: { pendingComments?: PendingCommentsChoice; approver?: Approver } = {},
) {
  const fleet = await fleetState(deps.db, fleetId);
  if (fleet.kind !== "best_of_n")
    throw badInput(`Fleet ${fleetId} is a ${fleet.kind} fleet; only a best-of-N fleet has a winner`);
  const ranking = await rankFleet(deps.db, fleetId);
  const winner = chooseWinner(fleetId, ranking.members, runId);
  const approved = await approveRun(deps, winner.runId, options);
  const rejected: string[] = [];
  for (const m of ranking.members) {
    if (m.runId === winner.runId || (m.status !== "awaiting_review" && m.status !== "needs_attention")) continue;
    const reason = `Fleet "${fleet.name}": member ${winner.memberIndex} (run ${winner.runId}) was approved instead`;
    if (await rejectLoser(deps, m.runId, reason)) rejected.push(m.runId);
  }
  await deps.notifier.fleetChanged?.(fleetId, fleet.status);
  return {
    fleetId,
    winner: {
      runId: winner.runId,
      memberIndex: winner.memberIndex,
      mergedSha: approved.mergedSha,
      target: approved.target,
    },
    rejected,
  };
}

/** The member named, else the best eligible one; refused while any member still works. */
function chooseWinner(fleetId: string, members: RankedMember[], runId?: string): RankedMember {
  const busy = members.filter((m) => m.status === "queued" || m.status === "running" || m.status === "verifying");
  if (busy.length)
    throw conflict(
      `${busy.length} member${busy.length === 1 ? " is" : "s are"} still queued or running; wait for them or cancel the fleet`,
    );
  if (runId) {
    const chosen = members.find((m) => m.runId === runId);
    if (!chosen) throw badInput(`Run ${runId} is not a member of fleet ${fleetId}`);
    return chosen;
  }
  const best = members.find((m) => m.eligible);
  if (!best) throw conflict(`No member of fleet ${fleetId} can be approved: none is awaiting review with green checks`);
  return best;
}

/**
 * Rejects a member the winner beat. The winner is merged already, so a member
 * that cannot be rejected does not undo that: one that left review by itself
 * (a reviewer closed it meanwhile: CONFLICT) needs nothing; any other failure is
 * logged, and the member stays in the review inbox to be rejected by hand.
 */
async function rejectLoser(deps: FleetDeps, runId: string, reason: string): Promise<boolean> {
  try {
    await rejectRun(deps, runId, reason);
    return true;
  } catch (error) {
    if (!(error instanceof AppError && error.code === "CONFLICT"))
      fleetLog(deps)(`fleet member ${runId} was not rejected after the winner's approval: ${(error as Error).message}`);
    return false;
  }
}

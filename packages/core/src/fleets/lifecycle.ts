import { conflict } from "../shared/errors.ts";
import { fleetProgress } from "./dispatch.ts";
import { researchDeps, type FleetDeps } from "./model.ts";
import { fleetState, getFleet } from "./queries.ts";
import { researchFleetProgress, stopResearchFleet } from "./research-fleets.ts";
import { stopFleet } from "./teardown.ts";

/** A user's commands on a whole fleet: pause, resume, cancel. */

/** No new member starts; running members go on. */
export async function pauseFleet(deps: FleetDeps, fleetId: string) {
  const fleet = await fleetState(deps.db, fleetId);
  const { count } = await deps.db.fleet.updateMany({
    where: { id: fleetId, status: "running" },
    data: { status: "paused", statusReason: "Paused by a user" },
  });
  if (count === 0) throw conflict(`Fleet ${fleetId} is ${fleet.status}; only a running fleet can be paused`);
  await deps.notifier.fleetChanged?.(fleetId, "paused");
  // Members dispatched but not started yet go back to waiting (a job already taken is refused by the member's claim).
  const dispatched = await deps.db.run.findMany({
    where: { fleetId, status: "queued", dispatchedAt: { not: null } },
    select: { id: true },
  });
  for (const { id } of dispatched) {
    if (await deps.scheduler.remove(id))
      await deps.db.run.updateMany({ where: { id, status: "queued" }, data: { dispatchedAt: null } });
  }
  return getFleet(deps.db, fleetId);
}

/** Members start again as the limits allow (a budget spent while paused ends the fleet instead). */
export async function resumeFleet(deps: FleetDeps, fleetId: string) {
  const fleet = await fleetState(deps.db, fleetId);
  const { count } = await deps.db.fleet.updateMany({
    where: { id: fleetId, status: "paused" },
    data: { status: "running", statusReason: null },
  });
  if (count === 0) throw conflict(`Fleet ${fleetId} is ${fleet.status}; only a paused fleet can be resumed`);
  await deps.notifier.fleetChanged?.(fleetId, "running");
  if (fleet.kind === "research") await researchFleetProgress(researchDeps(deps), fleetId);
  else await fleetProgress(deps, fleetId);
  return getFleet(deps.db, fleetId);
}

/**
 * Cancels a fleet: queued members are cancelled, running ones stopped (their
 * process groups killed, worktrees removed by their worker), members waiting for
 * review cancelled with their worktrees removed. Branches stay.
 */
export async function cancelFleet(deps: FleetDeps, fleetId: string) {
  const fleet = await fleetState(deps.db, fleetId);
  if (fleet.status === "cancelled") throw conflict(`Fleet ${fleetId} is already cancelled`);
  const reason =
    fleet.status === "failed" && fleet.statusReason
      ? `Cancelled by a user (after: ${fleet.statusReason})`
      : "Cancelled by a user";
  const stopped =
    fleet.kind === "research"
      ? await stopResearchFleet(researchDeps(deps), fleetId, "cancelled", reason)
      : await stopFleet(deps, fleetId, {
          to: "cancelled",
          reason,
          from: ["running", "paused", "completed", "failed"],
          memberReason: "fleet cancelled",
          includeReviewable: true,
        });
  if (!stopped) throw conflict(`Fleet ${fleetId} changed state while it was being cancelled; try again`);
  return getFleet(deps.db, fleetId);
}

/**
 * Fleets: many runs (or research loops) launched together and run under one
 * concurrency limit and one budget. This module is the domain's public face
 * (`@loopy/core/fleets/fleets`); each step lives in its own module:
 *
 * - model.ts: kinds, states, limits, the launch input, dependencies
 * - plan-members.ts: validation of the limits and of every member, nothing written
 * - launch.ts: the launch's transaction (fleet, members, the planner run closed), then dispatch
 * - queries.ts: the list, one fleet with its members, best-of-N ranking
 * - lifecycle.ts: pause, resume, cancel
 * - winner.ts: approving a best-of-N winner and rejecting the rest
 * - dispatch.ts / teardown.ts: the dispatcher, budgets, stops and completion
 */
export {
  FLEET_KINDS,
  FLEET_STATUSES,
  MAX_MEMBERS,
  type FleetBudgetInput,
  type FleetDeps,
  type FleetKind,
  type FleetTaskInput,
  type LaunchFleetInput,
} from "./model.ts";
export { launchFleet } from "./launch.ts";
export { getFleet, listFleets, rankFleet, type FleetProgress, type FleetSummary, type FleetView } from "./queries.ts";
export { cancelFleet, pauseFleet, resumeFleet } from "./lifecycle.ts";
export { approveWinner } from "./winner.ts";

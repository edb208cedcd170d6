import type { FleetStatus } from "@loopy/db/client";
import { badInput } from "../shared/errors.ts";
import type { CoreDeps, LaunchDeps, RunScheduler } from "../shared/ports.ts";
import type { CreateResearchLoopInput } from "../research/loops.ts";
import type { ResearchLaunchDeps } from "../research/ports.ts";
import type { FleetMetric } from "./rank.ts";
import type { PlanSubtask } from "./dag.ts";
import type { ResearchFleetDeps } from "./research-fleets.ts";

/** The fleet model: kinds, states, limits, what a launch takes, and what fleet commands need. */

export interface FleetDeps
  extends LaunchDeps,
    Partial<Pick<ResearchLaunchDeps, "researchScheduler" | "researchNotifier">> {
  /** LOOPY_MAX_RUNNING: the global limit of running runs. */
  maxRunning?: number;
  /** Where a fleet command reports a failure it can go on without (default: console.warn). */
  log?: (message: string) => void;
}

/** What the dispatcher and the fleet's teardown need (workers and the API both have it). */
export interface FleetRuntimeDeps extends CoreDeps {
  scheduler: RunScheduler;
  loopyHome: string;
  /** The global limit of running runs (fleet members wait beyond it). */
  maxRunning?: number;
  /** Where a fleet command reports a failure it can go on without (default: console.warn). */
  log?: (message: string) => void;
}

/** What research fleets need besides a run fleet's dependencies (the API's services have both). */
export function researchDeps(deps: FleetDeps): ResearchFleetDeps {
  if (!deps.researchScheduler || !deps.researchNotifier)
    throw new Error("research fleets need the research scheduler and notifier");
  return deps as ResearchFleetDeps;
}

export const FLEET_KINDS = ["best_of_n", "batch", "dag", "research"] as const;
export type FleetKind = (typeof FLEET_KINDS)[number];
export const FLEET_STATUSES = [
  "running",
  "paused",
  "completed",
  "cancelled",
  "failed",
] as const satisfies readonly FleetStatus[];

export const MAX_MEMBERS = 1000;
export const MAX_CONCURRENCY = 1000;
export const DEFAULT_CONCURRENCY = 4;
export const MAX_BUDGET_MS = 7 * 24 * 3_600_000;

export interface FleetBudgetInput {
  usd?: number;
  tokens?: number;
  wallClockMs?: number;
}

export interface FleetTaskInput {
  project: string;
  prompt?: string;
  command?: string;
  tags?: string[];
  title?: string;
}

export interface LaunchFleetInput {
  kind: FleetKind;
  name?: string;
  /** best_of_n: the one task. */
  project?: string;
  prompt?: string;
  command?: string;
  tags?: string[];
  title?: string;
  /** best_of_n: the agents (adapters or profiles), cycled over the members: ["a", "b"] with count 4 gives a, b, a, b. */
  agents?: string[];
  /** best_of_n: how many members. */
  count?: number;
  /** batch: the tasks, one member each. */
  tasks?: FleetTaskInput[];
  /** batch: the one agent for every task (adapter or profile); when omitted each task's tags route it. */
  agent?: string;
  checkpoints?: unknown;
  baseRef?: string;
  timeoutMs?: number;
  /** Stored secrets every member's agent needs besides its profile's. */
  secrets?: string[];
  /** Members running at once, at most (default 4). */
  concurrency?: number;
  budget?: FleetBudgetInput;
  /** best_of_n: ranks members after green checks. */
  metric?: FleetMetric;
  /** dag: the subtasks with their dependencies, on `project`; `agent` is the default agent. */
  subtasks?: PlanSubtask[];
  /** dag: the planner run whose plan this is; it is closed (rejected, "plan used") in the launch's transaction. */
  plannerRunId?: string;
  /** research: the loop each member runs on `project` (member i gets seed + i), `count` members. */
  research?: Omit<CreateResearchLoopInput, "project">;
  /** research: proposers cycled over the members. */
  proposers?: Array<{ optimizer?: "random" | "tpe"; agent?: string }>;
}

/** A limit the user may leave out (null); else a number above 0 and at most `max`. */
export function positive(value: number | undefined, what: string, max: number, integer = false): number | null {
  if (value === undefined) return null;
  if (!Number.isFinite(value) || value <= 0 || value > max || (integer && !Number.isInteger(value))) {
    throw badInput(
      `${what} must be ${integer ? "a whole number" : "a number"} above 0 and at most ${max}, got ${value}`,
    );
  }
  return value;
}

/** Where fleet commands report what they went on without. */
export function fleetLog(deps: { log?: (message: string) => void }): (message: string) => void {
  return deps.log ?? ((message) => console.warn(message));
}

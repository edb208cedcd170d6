import type { Db, Prisma } from "@loopy/db/client";
import { badInput } from "../shared/errors.ts";
import { newId } from "../shared/ids.ts";
import { cleanUp } from "../review/review.ts";
import type { StoredRunEvent } from "../live/run-events.ts";
import { WAITING_STATUSES } from "../runs/run-times.ts";
import { createRunRowsMany, transitionRunIn } from "../runs/runs.ts";
import { dispatchFleet } from "./dispatch.ts";
import {
  DEFAULT_CONCURRENCY,
  MAX_BUDGET_MS,
  MAX_CONCURRENCY,
  positive,
  researchDeps,
  type FleetDeps,
  type LaunchFleetInput,
} from "./model.ts";
import { fleetLimits, planFleet, type FleetLimits, type FleetPlan } from "./plan-members.ts";
import { getFleet, type FleetView } from "./queries.ts";
import { launchResearchFleet } from "./research-fleets.ts";

/** The planner run a dag fleet's plan came from, and what closing it needs. */
type PlannerRun = { id: string; project: { path: string } };

/**
 * Launches a fleet: best-of-N (one task × N members, agents cycled from a list),
 * a batch (M tasks × one agent, or each task routed by its tags), a decomposed
 * task (dag) or N research loops. Every member is validated before anything is
 * written; the fleet and all its member runs (queued) are written in one
 * transaction, which also closes the planner run a dag's plan came from; then
 * the dispatcher queues the first members the concurrency limits allow.
 */
export async function launchFleet(deps: FleetDeps, input: LaunchFleetInput): Promise<FleetView> {
  if (input.kind === "research") return launchResearch(deps, input);
  if (input.kind !== "best_of_n" && input.kind !== "batch" && input.kind !== "dag")
    throw badInput(`Unknown fleet kind "${String(input.kind)}": use best_of_n, batch or dag`);
  const limits = fleetLimits(input);
  const plan = await planFleet(deps, input);
  const planner = await plannerToClose(deps.db, input);

  const fleetId = newId();
  const { members, plannerEvents } = await deps.db.$transaction(
    (tx) => writeFleet(tx, { fleetId, kind: input.kind, limits, plan, planner }),
    { timeout: 120_000, maxWait: 10_000 },
  );
  for (const [runId, events] of members) {
    await deps.notifier.runEvents(runId, events);
    await deps.notifier.runChanged(runId, "queued");
  }
  if (planner && plannerEvents) {
    await deps.notifier.runEvents(planner.id, plannerEvents);
    await deps.notifier.runChanged(planner.id, "rejected");
    await cleanUp(deps, planner);
  }
  await deps.notifier.fleetChanged?.(fleetId, "running");
  await dispatchFleet(deps, fleetId);
  return getFleet(deps.db, fleetId);
}

async function launchResearch(deps: FleetDeps, input: LaunchFleetInput): Promise<FleetView> {
  if (input.secrets?.length)
    throw badInput(
      "Research loops take their secrets from the agent profile that proposes; a research fleet cannot name secrets",
    );
  if (!input.research)
    throw badInput("A research fleet needs the loop to run (research: { command, metric, direction, budget, ... })");
  if (!input.project?.trim()) throw badInput("Choose the project the research loops work on");
  const budgetUsd = positive(input.budget?.usd, "The USD budget", 100_000);
  const budgetMs = positive(input.budget?.wallClockMs, "The wall-clock budget (ms)", MAX_BUDGET_MS, true);
  if (input.budget?.tokens !== undefined)
    throw badInput("A research fleet's budget is in USD (agent proposers' cost) or wall clock, not tokens");
  const fleetId = await launchResearchFleet(researchDeps(deps), {
    project: input.project,
    name: input.name,
    count: input.count ?? input.proposers?.length ?? 0,
    concurrency: positive(input.concurrency, "Concurrency", MAX_CONCURRENCY, true) ?? DEFAULT_CONCURRENCY,
    budgetUsd,
    budgetMs,
    loop: input.research,
    proposers: input.proposers,
  });
  return getFleet(deps.db, fleetId);
}

/**
 * The planner run a dag's plan came from: it must be one (a run `startPlanner`
 * started, not a fleet member). Null when the launch names none.
 */
async function plannerToClose(db: Db, input: LaunchFleetInput): Promise<PlannerRun | null> {
  if (!input.plannerRunId) return null;
  if (input.kind !== "dag") throw badInput("Only a decomposed task (a dag fleet) launches a planner run's plan");
  const run = await db.run.findUnique({
    where: { id: input.plannerRunId },
    select: { id: true, fleetId: true, task: { select: { tags: true } }, project: { select: { path: true } } },
  });
  if (!run || run.fleetId || !run.task.tags.includes("planner"))
    throw badInput(
      `Run ${input.plannerRunId} is not a planner run: start one with "startPlanner", then launch its plan`,
    );
  return { id: run.id, project: run.project };
}

/**
 * The launch's one transaction: the fleet row, every member run (queued, not
 * dispatched) and, for a plan, its planner run closed ("Plan used by fleet …"),
 * so a plan is never launched without its planner leaving the review inbox, nor
 * the planner closed for a fleet that was not written.
 */
async function writeFleet(
  tx: Prisma.TransactionClient,
  fleet: { fleetId: string; kind: string; limits: FleetLimits; plan: FleetPlan; planner: PlannerRun | null },
): Promise<{ members: Array<[string, StoredRunEvent[]]>; plannerEvents: StoredRunEvent[] | null }> {
  const { fleetId, limits, plan } = fleet;
  await tx.fleet.create({
    data: {
      id: fleetId,
      name: plan.name,
      kind: fleet.kind,
      concurrency: limits.concurrency,
      budgetUsd: limits.budgetUsd,
      budgetTokens: limits.budgetTokens,
      budgetMs: limits.budgetMs,
      metricName: limits.metric?.name,
      metricDirection: limits.metric?.direction,
    },
  });
  const runIds = plan.members.map(() => newId());
  const events = await createRunRowsMany(
    tx,
    plan.members.map((prepared, i) => ({
      prepared,
      runId: runIds[i] as string,
      fleet: { fleetId, memberIndex: i, dependsOn: (plan.dependsOn[i] ?? []).map((d) => runIds[d] as string) },
    })),
  );
  // A planner no longer waiting for review (a reviewer closed it, or this plan was launched before) stays as it is.
  const plannerEvents = fleet.planner
    ? await transitionRunIn(tx, fleet.planner.id, "rejected", {
        from: [...WAITING_STATUSES],
        reason: `Plan used by fleet ${fleetId}`,
      })
    : null;
  return { members: runIds.map((runId) => [runId, events.get(runId) ?? []]), plannerEvents };
}

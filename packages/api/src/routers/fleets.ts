import { z } from "zod";
import { agentRef, boundedJson, duration, gitRef, loopyId, projectRef, secretName, smallInt, text } from "../inputs.ts";
import { parseDuration } from "@loopy/config/duration";
import { badInput } from "@loopy/core/shared";
import {
  approveWinner,
  cancelFleet,
  FLEET_STATUSES,
  getFleet,
  launchFleet,
  listFleets,
  pauseFleet,
  rankFleet,
  resumeFleet,
} from "@loopy/core/fleets";
import { planOf, startPlanner } from "@loopy/core/fleets";
import type { FleetChange, RunChange } from "@loopy/queue/event-bus";
import { operatorProcedure, reviewerProcedure, viewerProcedure, router } from "../trpc.ts";
import { changesWithResync, subscribeAll } from "../live-stream.ts";
import { researchLoopInput } from "./research.ts";

const fleetId = z.object({ fleetId: loopyId });

function toMs(value: string | number | undefined, what: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  try {
    return parseDuration(value);
  } catch (error) {
    throw badInput(`${what}: ${(error as Error).message}`);
  }
}

const common = {
  name: text(200).optional(),
  checkpoints: z.array(boundedJson()).max(100).optional(),
  baseRef: gitRef.optional(),
  /** Stored secrets every member's agent needs besides its profile's (names only). */
  secrets: z.array(secretName).max(20).optional(),
  /** Per member run: a duration such as "30s" or "5m", or seconds. */
  timeout: duration.optional(),
  /** Members running at once, at most (default 4). */
  concurrency: smallInt.optional(),
  budget: z
    .object({
      usd: z.number().optional(),
      tokens: smallInt.optional(),
      /** A duration such as "10m", or seconds. */
      wallClock: duration.optional(),
    })
    .optional(),
};

const tags = z.array(text(64)).max(20).optional();

const launchFleetInput = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("best_of_n"),
    project: projectRef,
    prompt: text(200_000).optional(),
    command: text(100_000).optional(),
    title: text(200).optional(),
    tags,
    /** Adapters or profile names, cycled over the members; omitted: the project's routing rules pick from `tags` (else command). */
    agents: z.array(agentRef).max(100).optional(),
    count: smallInt,
    metric: z.object({ name: text(64), direction: z.enum(["min", "max"]) }).optional(),
    ...common,
  }),
  z.object({
    kind: z.literal("batch"),
    tasks: z
      .array(
        z.object({
          project: projectRef,
          prompt: text(200_000).optional(),
          command: text(100_000).optional(),
          title: text(200).optional(),
          tags,
        }),
      )
      .max(1000),
    /** One adapter or profile for every task; omitted: each task's tags route it. */
    agent: agentRef.optional(),
    ...common,
  }),
  z.object({
    /** N research loops on one project: the same experiment, seeds (seed + member index) and proposers varied. */
    kind: z.literal("research"),
    project: projectRef,
    count: smallInt.optional(),
    research: researchLoopInput.omit({ project: true }),
    /** Proposers cycled over the members; default: the loop's own optimizer or agent. */
    proposers: z
      .array(z.object({ optimizer: z.enum(["random", "tpe"]).optional(), agent: agentRef.optional() }))
      .max(100)
      .optional(),
    ...common,
  }),
  z.object({
    /** A task decomposed into subtasks with dependencies: each starts once those it depends on are approved. */
    kind: z.literal("dag"),
    project: projectRef,
    /** The default agent of the subtasks (adapter or profile); a subtask may name its own. */
    agent: agentRef.optional(),
    subtasks: z
      .array(
        z.object({
          key: text(40).min(1),
          title: text(200).optional(),
          prompt: text(200_000).optional(),
          command: text(100_000).optional(),
          agent: agentRef.optional(),
          tags,
          dependsOn: z.array(text(40)).max(100).optional(),
        }),
      )
      .min(1, "a plan needs at least one subtask")
      .max(100),
    /** The planner run whose plan this is: closed (rejected, "plan used") in the launch's transaction. */
    plannerRunId: loopyId.optional(),
    ...common,
  }),
]);

export const fleetsRouter = router({
  /** Launches a best-of-N, batch, dag or research fleet; returns the fleet as `get` does. */
  launch: operatorProcedure.input(launchFleetInput).mutation(({ ctx, input }) => {
    const { timeout, budget, ...rest } = input;
    return launchFleet(ctx.services, {
      ...rest,
      timeoutMs: toMs(timeout, "timeout"),
      budget: budget
        ? { usd: budget.usd, tokens: budget.tokens, wallClockMs: toMs(budget.wallClock, "budget.wallClock") }
        : undefined,
    });
  }),

  /**
   * Decomposition by an agent: starts a planner run (any agent) that writes a
   * plan (loopy.plan.json, or JSON in its final message). Read it with `plan`,
   * edit it, then launch it as a `dag` fleet.
   */
  startPlanner: operatorProcedure
    .input(
      z.object({
        project: projectRef,
        agent: agentRef.pipe(z.string().min(1, "choose an agent")),
        task: text(200_000).min(1, "describe the task to split"),
      }),
    )
    .mutation(({ ctx, input }) => startPlanner(ctx.services, input)),

  /** A planner run's plan once it is done: the ordered subtasks, or why there is none (yet). */
  plan: viewerProcedure
    .input(z.object({ runId: loopyId }))
    .query(({ ctx, input }) => planOf(ctx.services.db, input.runId)),

  /** Fleets, newest first, with progress counts (no members). */
  list: viewerProcedure
    .input(
      z
        .object({
          status: z.enum(FLEET_STATUSES).optional(),
          projectId: loopyId.optional(),
          limit: z.number().int().min(1).max(200).optional(),
          cursor: loopyId.optional(),
        })
        .optional(),
    )
    .query(({ ctx, input }) => listFleets(ctx.services.db, input)),

  /** The fleet with every member: live state, checks, diff size, cost, metric, rank and progress. */
  get: viewerProcedure.input(fleetId).query(({ ctx, input }) => getFleet(ctx.services.db, input.fleetId)),

  /** Best-of-N members in rank order with the reasons. */
  rank: viewerProcedure.input(fleetId).query(({ ctx, input }) => rankFleet(ctx.services.db, input.fleetId)),

  pause: operatorProcedure.input(fleetId).mutation(({ ctx, input }) => pauseFleet(ctx.services, input.fleetId)),
  resume: operatorProcedure.input(fleetId).mutation(({ ctx, input }) => resumeFleet(ctx.services, input.fleetId)),
  cancel: operatorProcedure.input(fleetId).mutation(({ ctx, input }) => cancelFleet(ctx.services, input.fleetId)),

  /** Approves the top-ranked member (or `runId`) and rejects the other members waiting for review. */
  approveWinner: reviewerProcedure
    .input(fleetId.extend({ runId: loopyId.optional(), pendingComments: z.enum(["refuse", "discard"]).optional() }))
    .mutation(({ ctx, input }) =>
      approveWinner(ctx.services, input.fleetId, input.runId, {
        pendingComments: input.pendingComments,
        approver: { name: ctx.actor.name },
      }),
    ),

  /**
   * A note whenever a fleet changes state or any run changes state (members
   * included), so the fleet views refetch without polling. Throttle refetches.
   * `{ kind: "resync" }` when notes may have been missed (Redis reconnected): refetch everything.
   */
  changes: viewerProcedure.subscription(async function* ({ ctx, signal }) {
    const { services } = ctx;
    type Change = ({ kind: "fleet" } & FleetChange) | ({ kind: "run" } & RunChange);
    yield* changesWithResync<Change>({
      signal,
      subscribe: subscribeAll(
        (push) => services.subscriptions.listenFleetChanges(services.prefix, (c) => push({ kind: "fleet", ...c })),
        (push) => services.subscriptions.listenRunChanges(services.prefix, (c) => push({ kind: "run", ...c })),
      ),
      resyncs: services.subscriptions,
    });
  }),
});

import type { Prisma, Db, FleetStatus } from "@loopy/db/client";
import { badInput, conflict, notFound } from "../errors.ts";
import { newId } from "../ids.ts";
import { appendRunEvents, type StoredRunEvent } from "../run-events.ts";
import { createRunRowsMany, prepareLaunch, type PreparedLaunch } from "../runs.ts";
import { approveRun, rejectRun, type PendingCommentsChoice } from "../review.ts";
import type { LaunchDeps } from "../ports.ts";
import type { Approver } from "../merge-message.ts";
import { dispatchFleet, fleetProgress, SETTLED_STATUSES, stopFleet, type FleetRuntimeDeps } from "./dispatch.ts";
import { isEligible, parseMetric, rankMembers, type FleetMetric, type RankedMember } from "./rank.ts";
import { orderPlan, type PlanSubtask } from "./dag.ts";
import type { CreateResearchLoopInput } from "../research/loops.ts";
import type { ResearchLaunchDeps } from "../research/ports.ts";
import {
  launchResearchFleet,
  researchFleetMembers,
  researchFleetProgress,
  stopResearchFleet,
  type ResearchFleetDeps,
} from "./research-fleets.ts";

export interface FleetDeps
  extends LaunchDeps,
    Partial<Pick<ResearchLaunchDeps, "researchScheduler" | "researchNotifier">> {
  /** LOOPY_MAX_RUNNING: the global limit of running runs. */
  maxRunning?: number;
}

/** What research fleets need besides a run fleet's dependencies (the API's services have both). */
function researchDeps(deps: FleetDeps): ResearchFleetDeps {
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
const MAX_CONCURRENCY = 1000;
const DEFAULT_CONCURRENCY = 4;
const MAX_BUDGET_MS = 7 * 24 * 3_600_000;
const METRIC_NAME = /^[A-Za-z_][A-Za-z0-9_.\-/]{0,63}$/;

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
  /** research: the loop each member runs on `project` (member i gets seed + i), `count` members. */
  research?: Omit<CreateResearchLoopInput, "project">;
  /** research: proposers cycled over the members. */
  proposers?: Array<{ optimizer?: "random" | "tpe"; agent?: string }>;
}

const memberSelect = {
  id: true,
  memberIndex: true,
  status: true,
  statusReason: true,
  agent: true,
  branch: true,
  headSha: true,
  checksPassed: true,
  additions: true,
  deletions: true,
  costUsd: true,
  inputTokens: true,
  outputTokens: true,
  turns: true,
  dependsOn: true,
  logTail: true,
  worktreePath: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
  // Where the winner merged (and will merge), for the fleet page's confirmation and "merged as".
  mergedSha: true,
  project: { select: { id: true, name: true, defaultBranch: true } },
  task: {
    select: { id: true, title: true, tags: true, routedBy: true, agentProfile: { select: { id: true, name: true } } },
  },
} as const;

const fleetSelect = {
  id: true,
  name: true,
  kind: true,
  status: true,
  statusReason: true,
  concurrency: true,
  budgetUsd: true,
  budgetTokens: true,
  budgetMs: true,
  spentUsd: true,
  spentTokens: true,
  metricName: true,
  metricDirection: true,
  createdAt: true,
  finishedAt: true,
} as const;

type FleetRow = Prisma.FleetGetPayload<{ select: typeof fleetSelect }>;

function positive(value: number | undefined, what: string, max: number, integer = false): number | null {
  if (value === undefined) return null;
  if (!Number.isFinite(value) || value <= 0 || value > max || (integer && !Number.isInteger(value))) {
    throw badInput(
      `${what} must be ${integer ? "a whole number" : "a number"} above 0 and at most ${max}, got ${value}`,
    );
  }
  return value;
}

/**
 * Launches a fleet: best-of-N (one task × N members, agents cycled from a list)
 * or a batch (M tasks × one agent, or each task routed by its tags). Every
 * member is validated before anything is written; the fleet and all its member
 * runs (queued) are written in one transaction; then the dispatcher queues the
 * first members the concurrency limits allow.
 */
export async function launchFleet(deps: FleetDeps, input: LaunchFleetInput): Promise<FleetView> {
  if (input.kind === "research") {
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
  if (input.kind !== "best_of_n" && input.kind !== "batch" && input.kind !== "dag")
    throw badInput(`Unknown fleet kind "${String(input.kind)}": use best_of_n, batch or dag`);
  const concurrency = positive(input.concurrency, "Concurrency", MAX_CONCURRENCY, true) ?? DEFAULT_CONCURRENCY;
  const budgetUsd = positive(input.budget?.usd, "The USD budget", 100_000);
  const budgetTokens = positive(input.budget?.tokens, "The token budget", 2_000_000_000, true);
  const budgetMs = positive(input.budget?.wallClockMs, "The wall-clock budget (ms)", MAX_BUDGET_MS, true);
  if (budgetMs !== null && budgetMs < 100) throw badInput("The wall-clock budget must be at least 100ms");
  let metric: FleetMetric | null = null;
  if (input.metric) {
    if (input.kind !== "best_of_n") throw badInput("A ranking metric only applies to best-of-N fleets");
    const name = input.metric.name?.trim() ?? "";
    if (!METRIC_NAME.test(name))
      throw badInput(
        `Invalid metric name "${name}": letters, digits, "_", ".", "-" or "/", starting with a letter or "_"`,
      );
    if (input.metric.direction !== "min" && input.metric.direction !== "max")
      throw badInput(`Metric direction must be "min" or "max", got "${String(input.metric.direction)}"`);
    metric = { name, direction: input.metric.direction };
  }

  const members: PreparedLaunch[] = [];
  /** dag: for each member, the indexes of the members it waits for. */
  const dependsOn: number[][] = [];
  const common = {
    checkpoints: input.checkpoints,
    baseRef: input.baseRef,
    timeoutMs: input.timeoutMs,
    secrets: input.secrets,
  };
  if (input.kind === "dag") {
    if (input.tasks?.length || input.count !== undefined || input.agents?.length)
      throw badInput(
        "A decomposed task takes a project and subtasks; tasks/count/agents are for batch and best-of-N fleets",
      );
    if (!input.project?.trim()) throw badInput("Choose the project the subtasks work on");
    if (input.baseRef)
      throw badInput(
        "Subtasks start from the project's default branch (which holds the approved subtasks they depend on); a base ref cannot be chosen",
      );
    const ordered = orderPlan(input.subtasks ?? []);
    const index = new Map(ordered.map((s, i) => [s.key, i]));
    for (const s of ordered) {
      try {
        members.push(
          await prepareLaunch(deps, {
            project: input.project,
            agent: s.agent ?? input.agent,
            prompt: s.prompt,
            command: s.command,
            tags: s.tags,
            title: `${s.key}: ${s.title?.trim() || (s.prompt ?? s.command ?? "").split("\n")[0]}`.slice(0, 120),
            checkpoints: input.checkpoints,
            timeoutMs: input.timeoutMs,
            secrets: input.secrets,
          }),
        );
      } catch (error) {
        if (error instanceof Error && "code" in error) error.message = `Subtask "${s.key}": ${error.message}`;
        throw error;
      }
      dependsOn.push((s.dependsOn ?? []).map((d) => index.get(d) as number));
    }
  } else if (input.kind === "best_of_n") {
    if (input.tasks?.length)
      throw badInput("A best-of-N fleet runs one task: give project and prompt/command, not tasks");
    if (!input.project?.trim()) throw badInput("Choose the project the best-of-N fleet works on");
    const count = input.count ?? input.agents?.length ?? 0;
    if (!Number.isInteger(count) || count < 1 || count > MAX_MEMBERS)
      throw badInput(`Count must be a whole number from 1 to ${MAX_MEMBERS}, got ${count}`);
    const agents = (input.agents ?? (input.agent ? [input.agent] : [])).map((a) => a.trim());
    if (agents.some((a) => !a)) throw badInput("An agent name in the list is empty");
    if (agents.length > count)
      throw badInput(`${agents.length} agents for ${count} members: give at most as many agents as members`);
    // One validation per distinct agent: the rest of the task is the same for every member.
    const prepared = new Map<string, PreparedLaunch>();
    for (const agent of agents.length ? agents : [""]) {
      if (prepared.has(agent)) continue;
      prepared.set(
        agent,
        await prepareLaunch(deps, {
          project: input.project,
          agent: agent || undefined,
          prompt: input.prompt,
          command: input.command,
          tags: input.tags,
          title: input.title,
          ...common,
        }),
      );
    }
    for (let i = 0; i < count; i++)
      members.push(prepared.get(agents.length ? (agents[i % agents.length] as string) : "") as PreparedLaunch);
  } else {
    if (input.project || input.prompt || input.command || input.count !== undefined || input.agents?.length) {
      throw badInput(
        "A batch fleet takes a list of tasks ({ project, prompt | command }) and one agent; project/prompt/command/count/agents are for best-of-N",
      );
    }
    const tasks = input.tasks ?? [];
    if (tasks.length === 0) throw badInput("A batch fleet needs at least one task");
    if (tasks.length > MAX_MEMBERS)
      throw badInput(`A batch fleet has at most ${MAX_MEMBERS} tasks, got ${tasks.length}`);
    for (const [i, task] of tasks.entries()) {
      try {
        members.push(await prepareLaunch(deps, { ...task, agent: input.agent, ...common }));
      } catch (error) {
        if (error instanceof Error && "code" in error)
          (error as Error).message = `Task ${i + 1} (${task.project}): ${(error as Error).message}`;
        throw error;
      }
    }
  }

  const first = members[0] as PreparedLaunch;
  const name =
    input.name?.trim() ||
    (input.kind === "best_of_n"
      ? `best of ${members.length}: ${first.title}`
      : input.kind === "dag"
        ? `plan of ${members.length}: ${first.title}${members.length > 1 ? ", …" : ""}`
        : `batch of ${members.length}: ${first.title}${members.length > 1 ? ", …" : ""}`);
  if (name.length > 200) throw badInput("The fleet's name is longer than 200 characters");

  const fleetId = newId();
  const runIds = members.map(() => newId());
  const queued: Array<[string, StoredRunEvent[]]> = await deps.db.$transaction(
    async (tx) => {
      await tx.fleet.create({
        data: {
          id: fleetId,
          name,
          kind: input.kind,
          concurrency,
          budgetUsd,
          budgetTokens,
          budgetMs,
          metricName: metric?.name,
          metricDirection: metric?.direction,
        },
      });
      const stored: Array<[string, StoredRunEvent[]]> = [];
      const events = await createRunRowsMany(
        tx,
        members.map((prepared, i) => ({
          prepared,
          runId: runIds[i] as string,
          fleet: { fleetId, memberIndex: i, dependsOn: (dependsOn[i] ?? []).map((d) => runIds[d] as string) },
        })),
      );
      for (const runId of runIds) stored.push([runId, events.get(runId) ?? []]);
      return stored;
    },
    { timeout: 120_000, maxWait: 10_000 },
  );
  for (const [runId, events] of queued) {
    await deps.notifier.runEvents(runId, events);
    await deps.notifier.runChanged(runId, "queued");
  }
  await deps.notifier.fleetChanged?.(fleetId, "running");
  await dispatchFleet(deps, fleetId);
  return getFleet(deps.db, fleetId);
}

export interface FleetProgress {
  total: number;
  /** Members that need a human or ended. */
  finished: number;
  byStatus: Partial<Record<string, number>>;
}

function progressOf(statuses: Array<{ status: string; n: number }>): FleetProgress {
  const byStatus: Partial<Record<string, number>> = {};
  let total = 0;
  let finished = 0;
  for (const { status, n } of statuses) {
    byStatus[status] = (byStatus[status] ?? 0) + n;
    total += n;
    if ((SETTLED_STATUSES as readonly string[]).includes(status)) finished += n;
  }
  return { total, finished, byStatus };
}

function summary(fleet: FleetRow, progress: FleetProgress) {
  const { budgetUsd, budgetTokens, budgetMs, spentUsd, spentTokens, metricName, metricDirection, ...rest } = fleet;
  return {
    ...rest,
    metric: metricName ? { name: metricName, direction: metricDirection as "min" | "max" } : null,
    budget: { usd: budgetUsd, tokens: budgetTokens, wallClockMs: budgetMs },
    spent: {
      usd: spentUsd,
      tokens: spentTokens,
      wallClockMs: (fleet.finishedAt ?? new Date()).getTime() - fleet.createdAt.getTime(),
    },
    progress,
  };
}

export type FleetSummary = ReturnType<typeof summary>;

/** Fleets, newest first, with progress counts. */
export async function listFleets(
  db: Db,
  input: { status?: FleetStatus; projectId?: string; limit?: number; cursor?: string } = {},
) {
  const limit = Math.min(Math.max(input.limit ?? 50, 1), 200);
  const rows = await db.fleet.findMany({
    where: { status: input.status, ...(input.projectId ? { runs: { some: { projectId: input.projectId } } } : {}) },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit + 1,
    ...(input.cursor ? { cursor: { id: input.cursor }, skip: 1 } : {}),
    select: fleetSelect,
  });
  const next = rows.length > limit ? rows.pop() : undefined;
  const counts = rows.length
    ? await db.run.groupBy({
        by: ["fleetId", "status"],
        where: { fleetId: { in: rows.map((f) => f.id) } },
        _count: { _all: true },
      })
    : [];
  const loopCounts = rows.some((f) => f.kind === "research")
    ? await db.researchLoop.groupBy({
        by: ["fleetId", "status"],
        where: { fleetId: { in: rows.filter((f) => f.kind === "research").map((f) => f.id) } },
        _count: { _all: true },
      })
    : [];
  const fleets = rows.map((f) =>
    f.kind === "research"
      ? summary(f, {
          total: loopCounts.filter((c) => c.fleetId === f.id).reduce((n, c) => n + c._count._all, 0),
          finished: loopCounts
            .filter((c) => c.fleetId === f.id && ["completed", "failed", "cancelled"].includes(c.status))
            .reduce((n, c) => n + c._count._all, 0),
          byStatus: Object.fromEntries(
            loopCounts.filter((c) => c.fleetId === f.id).map((c) => [c.status, c._count._all]),
          ),
        })
      : summary(
          f,
          progressOf(counts.filter((c) => c.fleetId === f.id).map((c) => ({ status: c.status, n: c._count._all }))),
        ),
  );
  return { fleets, nextCursor: next ? (rows[rows.length - 1]?.id ?? null) : null };
}

async function loadMembers(db: Db, fleetId: string) {
  const runs = await db.run.findMany({ where: { fleetId }, orderBy: { memberIndex: "asc" }, select: memberSelect });
  // The latest turn's checkpoint results of every member, in one query.
  const results = runs.length
    ? await db.checkpointResult.findMany({
        where: { runId: { in: runs.map((r) => r.id) } },
        orderBy: [{ turnIndex: "asc" }, { createdAt: "asc" }],
        select: { runId: true, turnIndex: true, name: true, kind: true, required: true, passed: true, output: true },
      })
    : [];
  return runs.map((run) => {
    const mine = results.filter((r) => r.runId === run.id);
    const lastTurn = mine.reduce((n, r) => Math.max(n, r.turnIndex), -1);
    const checks = mine.filter((r) => r.turnIndex === lastTurn);
    return { run, checks };
  });
}

function memberMetric(fleet: FleetRow, member: Awaited<ReturnType<typeof loadMembers>>[number]): number | null {
  if (!fleet.metricName) return null;
  // A checkpoint's output first (the measurement the checkpoint made), then the run's own output.
  for (const check of [...member.checks].reverse()) {
    const value = parseMetric(check.output, fleet.metricName);
    if (value !== null) return value;
  }
  return parseMetric(member.run.logTail, fleet.metricName);
}

/** A fleet with every member: state, checks, diff size, cost, metric and (best-of-N) rank with reasons. */
export async function getFleet(db: Db, fleetId: string) {
  const fleet = await db.fleet.findUnique({ where: { id: fleetId }, select: fleetSelect });
  if (!fleet) throw notFound(`No fleet "${fleetId}". List fleets with "loopy fleet list".`);
  const loaded = await loadMembers(db, fleetId);
  const metric = fleet.metricName
    ? { name: fleet.metricName, direction: fleet.metricDirection as "min" | "max" }
    : null;
  const withMetric = loaded.map((m) => ({ ...m, metricValue: memberMetric(fleet, m) }));
  const ranking = new Map<string, RankedMember>();
  if (fleet.kind === "best_of_n") {
    for (const r of rankMembers(
      withMetric.map(({ run, metricValue }) => ({ ...run, memberIndex: run.memberIndex ?? 0, metricValue })),
      metric,
    )) {
      ranking.set(r.runId, r);
    }
  }
  const members = withMetric.map(({ run, checks, metricValue }) => {
    const { logTail: _logTail, ...rest } = run;
    const ranked = ranking.get(run.id);
    return {
      ...rest,
      memberIndex: run.memberIndex ?? 0,
      profile: run.task.agentProfile?.name ?? null,
      diffLines: run.additions === null && run.deletions === null ? null : (run.additions ?? 0) + (run.deletions ?? 0),
      checks: checks.map(({ name, kind, required, passed }) => ({ name, kind, required, passed })),
      metric: metricValue,
      rank: ranked?.rank ?? null,
      eligible: isEligible(run),
      rankReasons: ranked?.reasons ?? [],
    };
  });
  if (fleet.kind === "research") {
    const loops = await researchFleetMembers(db, fleetId);
    const ended = loops.filter((l) => ["completed", "failed", "cancelled"].includes(l.status)).length;
    const byStatus: Partial<Record<string, number>> = {};
    for (const l of loops) byStatus[l.status] = (byStatus[l.status] ?? 0) + 1;
    return { ...summary(fleet, { total: loops.length, finished: ended, byStatus }), members, loops };
  }
  const progress = progressOf(members.map((m) => ({ status: m.status, n: 1 })));
  return { ...summary(fleet, progress), members, loops: [] as Awaited<ReturnType<typeof researchFleetMembers>> };
}

export type FleetView = Awaited<ReturnType<typeof getFleet>>;

/** Best-of-N members in rank order, each with its rank and the reasons for it. */
export async function rankFleet(db: Db, fleetId: string) {
  const fleet = await getFleet(db, fleetId);
  if (fleet.kind !== "best_of_n")
    throw badInput(`Fleet ${fleetId} is a ${fleet.kind} fleet; only best-of-N fleets are ranked`);
  const members = [...fleet.members].sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0));
  return {
    fleetId,
    metric: fleet.metric,
    members: members.map((m) => ({
      runId: m.id,
      memberIndex: m.memberIndex,
      rank: m.rank as number,
      eligible: m.eligible,
      reasons: m.rankReasons,
      status: m.status,
      agent: m.profile ?? m.agent,
      checksPassed: m.checksPassed,
      metric: m.metric,
      diffLines: m.diffLines,
      costUsd: m.costUsd,
    })),
  };
}

async function fleetState(db: Db, fleetId: string) {
  const fleet = await db.fleet.findUnique({
    where: { id: fleetId },
    select: { id: true, status: true, statusReason: true, name: true, kind: true },
  });
  if (!fleet) throw notFound(`No fleet "${fleetId}". List fleets with "loopy fleet list".`);
  return fleet;
}

function runtime(deps: FleetDeps): FleetRuntimeDeps {
  return deps;
}

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
  else await fleetProgress(runtime(deps), fleetId);
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
  if (fleet.kind === "research") {
    if (!(await stopResearchFleet(researchDeps(deps), fleetId, "cancelled", reason)))
      throw conflict(`Fleet ${fleetId} changed state while it was being cancelled; try again`);
    return getFleet(deps.db, fleetId);
  }
  const stopped = await stopFleet(runtime(deps), fleetId, {
    to: "cancelled",
    reason,
    from: ["running", "paused", "completed", "failed"],
    memberReason: "fleet cancelled",
    includeReviewable: true,
  });
  if (!stopped) throw conflict(`Fleet ${fleetId} changed state while it was being cancelled; try again`);
  return getFleet(deps.db, fleetId);
}

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
  const busy = ranking.members.filter(
    (m) => m.status === "queued" || m.status === "running" || m.status === "verifying",
  );
  if (busy.length)
    throw conflict(
      `${busy.length} member${busy.length === 1 ? " is" : "s are"} still queued or running; wait for them or cancel the fleet`,
    );
  let winner: (typeof ranking.members)[number] | undefined;
  if (runId) {
    winner = ranking.members.find((m) => m.runId === runId);
    if (!winner) throw badInput(`Run ${runId} is not a member of fleet ${fleetId}`);
  } else {
    winner = ranking.members.find((m) => m.eligible);
    if (!winner)
      throw conflict(`No member of fleet ${fleetId} can be approved: none is awaiting review with green checks`);
  }
  const approved = await approveRun(deps, winner.runId, options);
  const rejected: string[] = [];
  for (const m of ranking.members) {
    if (m.runId === winner.runId || (m.status !== "awaiting_review" && m.status !== "needs_attention")) continue;
    await rejectRun(
      deps,
      m.runId,
      `Fleet "${fleet.name}": member ${winner.memberIndex} (run ${winner.runId}) was approved instead`,
    ).then(
      () => rejected.push(m.runId),
      () => undefined,
    );
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

import { badInput } from "../shared/errors.ts";
import type { LaunchDeps } from "../shared/ports.ts";
import { prepareLaunch, type PreparedLaunch } from "../runs/runs.ts";
import { orderPlan } from "./dag.ts";
import {
  DEFAULT_CONCURRENCY,
  MAX_BUDGET_MS,
  MAX_CONCURRENCY,
  MAX_MEMBERS,
  positive,
  type LaunchFleetInput,
} from "./model.ts";
import type { FleetMetric } from "./rank.ts";

/**
 * The first step of a launch: every limit and every member validated, nothing
 * written. A run fleet's members are prepared launches (project, agent, task
 * checked as `launchRun` checks them); the transaction in launch.ts writes them.
 */

const METRIC_NAME = /^[A-Za-z_][A-Za-z0-9_.\-/]{0,63}$/;

export interface FleetLimits {
  concurrency: number;
  budgetUsd: number | null;
  budgetTokens: number | null;
  budgetMs: number | null;
  metric: FleetMetric | null;
}

export interface FleetPlan {
  name: string;
  members: PreparedLaunch[];
  /** dag: for each member, the indexes of the members it waits for. */
  dependsOn: number[][];
}

/** A run fleet's concurrency, budgets and (best-of-N) ranking metric. */
export function fleetLimits(input: LaunchFleetInput): FleetLimits {
  const concurrency = positive(input.concurrency, "Concurrency", MAX_CONCURRENCY, true) ?? DEFAULT_CONCURRENCY;
  const budgetUsd = positive(input.budget?.usd, "The USD budget", 100_000);
  const budgetTokens = positive(input.budget?.tokens, "The token budget", 2_000_000_000, true);
  const budgetMs = positive(input.budget?.wallClockMs, "The wall-clock budget (ms)", MAX_BUDGET_MS, true);
  if (budgetMs !== null && budgetMs < 100) throw badInput("The wall-clock budget must be at least 100ms");
  return { concurrency, budgetUsd, budgetTokens, budgetMs, metric: fleetMetric(input) };
}

function fleetMetric(input: LaunchFleetInput): FleetMetric | null {
  if (!input.metric) return null;
  if (input.kind !== "best_of_n") throw badInput("A ranking metric only applies to best-of-N fleets");
  const name = input.metric.name?.trim() ?? "";
  if (!METRIC_NAME.test(name))
    throw badInput(
      `Invalid metric name "${name}": letters, digits, "_", ".", "-" or "/", starting with a letter or "_"`,
    );
  if (input.metric.direction !== "min" && input.metric.direction !== "max")
    throw badInput(`Metric direction must be "min" or "max", got "${String(input.metric.direction)}"`);
  return { name, direction: input.metric.direction };
}

/** Validates every member of a best-of-N, batch or dag fleet and names the fleet. */
export async function planFleet(deps: LaunchDeps, input: LaunchFleetInput): Promise<FleetPlan> {
  const { members, dependsOn } =
    input.kind === "dag"
      ? await planDag(deps, input)
      : input.kind === "best_of_n"
        ? { members: await planBestOfN(deps, input), dependsOn: [] }
        : { members: await planBatch(deps, input), dependsOn: [] };
  const name = fleetName(input, members);
  if (name.length > 200) throw badInput("The fleet's name is longer than 200 characters");
  return { name, members, dependsOn };
}

function common(input: LaunchFleetInput) {
  return { checkpoints: input.checkpoints, baseRef: input.baseRef, timeoutMs: input.timeoutMs, secrets: input.secrets };
}

/** An error of one member's launch, said with the member it is about. */
function aboutMember(error: unknown, which: string): unknown {
  if (error instanceof Error && "code" in error) error.message = `${which}: ${error.message}`;
  return error;
}

async function planDag(deps: LaunchDeps, input: LaunchFleetInput): Promise<Omit<FleetPlan, "name">> {
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
  const members: PreparedLaunch[] = [];
  const dependsOn: number[][] = [];
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
      throw aboutMember(error, `Subtask "${s.key}"`);
    }
    dependsOn.push((s.dependsOn ?? []).map((d) => index.get(d) as number));
  }
  return { members, dependsOn };
}

async function planBestOfN(deps: LaunchDeps, input: LaunchFleetInput): Promise<PreparedLaunch[]> {
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
        ...common(input),
      }),
    );
  }
  return Array.from(
    { length: count },
    (_, i) => prepared.get(agents.length ? (agents[i % agents.length] as string) : "") as PreparedLaunch,
  );
}

async function planBatch(deps: LaunchDeps, input: LaunchFleetInput): Promise<PreparedLaunch[]> {
  if (input.project || input.prompt || input.command || input.count !== undefined || input.agents?.length) {
    throw badInput(
      "A batch fleet takes a list of tasks ({ project, prompt | command }) and one agent; project/prompt/command/count/agents are for best-of-N",
    );
  }
  const tasks = input.tasks ?? [];
  if (tasks.length === 0) throw badInput("A batch fleet needs at least one task");
  if (tasks.length > MAX_MEMBERS) throw badInput(`A batch fleet has at most ${MAX_MEMBERS} tasks, got ${tasks.length}`);
  const members: PreparedLaunch[] = [];
  for (const [i, task] of tasks.entries()) {
    try {
      members.push(await prepareLaunch(deps, { ...task, agent: input.agent, ...common(input) }));
    } catch (error) {
      throw aboutMember(error, `Task ${i + 1} (${task.project})`);
    }
  }
  return members;
}

/** The name given, else one from the kind, the member count and the first member's title. */
function fleetName(input: LaunchFleetInput, members: PreparedLaunch[]): string {
  const given = input.name?.trim();
  if (given) return given;
  const first = (members[0] as PreparedLaunch).title;
  const more = members.length > 1 ? ", …" : "";
  if (input.kind === "best_of_n") return `best of ${members.length}: ${first}`;
  if (input.kind === "dag") return `plan of ${members.length}: ${first}${more}`;
  return `batch of ${members.length}: ${first}${more}`;
}

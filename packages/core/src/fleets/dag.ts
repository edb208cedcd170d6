import { badInput } from "../shared/errors.ts";

/**
 * Task decomposition: a plan is a list of subtasks with dependencies (a DAG).
 * Each subtask becomes a fleet member that starts once every subtask it
 * depends on is approved (merged, or succeeded with nothing to merge), from
 * the project's default branch at that moment, which holds their results:
 * the branch is stacked on what they produced.
 */
export interface PlanSubtask {
  /** A short key other subtasks name in `dependsOn` ("schema", "api", "ui"). */
  key: string;
  title?: string;
  /** For an LLM agent. */
  prompt?: string;
  /** For the command agent. */
  command?: string;
  /** An adapter or profile; the plan's default agent (or routing by tags) otherwise. */
  agent?: string;
  tags?: string[];
  dependsOn?: string[];
}

export const MAX_SUBTASKS = 100;
const KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;

/** Dependencies done enough for their dependents to start. */
export const DEPENDENCY_DONE = ["merged", "succeeded"] as const;
/** Dependencies that will never be done: their dependents are cancelled. */
export const DEPENDENCY_DEAD = ["failed", "cancelled", "rejected"] as const;

/**
 * Checks a plan (unique keys, known dependencies, no cycle) and returns its
 * subtasks in an order where each comes after everything it depends on
 * (stable: among ready subtasks, plan order). Errors name the subtask.
 */
export function orderPlan(subtasks: PlanSubtask[]): PlanSubtask[] {
  if (!Array.isArray(subtasks) || subtasks.length === 0) throw badInput("A plan needs at least one subtask");
  if (subtasks.length > MAX_SUBTASKS)
    throw badInput(`A plan has at most ${MAX_SUBTASKS} subtasks, got ${subtasks.length}`);
  const byKey = new Map<string, PlanSubtask>();
  for (const [i, s] of subtasks.entries()) {
    if (!s || typeof s !== "object") throw badInput(`Subtask ${i + 1} is not an object`);
    if (typeof s.key !== "string" || !KEY.test(s.key))
      throw badInput(`Subtask ${i + 1}: key "${String(s.key)}" must be 1–40 letters, digits, ".", "_" or "-"`);
    if (byKey.has(s.key)) throw badInput(`Two subtasks have the key "${s.key}"`);
    byKey.set(s.key, s);
  }
  for (const s of subtasks) {
    for (const dep of s.dependsOn ?? []) {
      if (dep === s.key) throw badInput(`Subtask "${s.key}" depends on itself`);
      if (!byKey.has(dep)) throw badInput(`Subtask "${s.key}" depends on "${dep}", which is not in the plan`);
    }
  }
  const ordered: PlanSubtask[] = [];
  const placed = new Set<string>();
  while (ordered.length < subtasks.length) {
    const ready = subtasks.filter((s) => !placed.has(s.key) && (s.dependsOn ?? []).every((d) => placed.has(d)));
    if (ready.length === 0) {
      const stuck = subtasks.filter((s) => !placed.has(s.key)).map((s) => s.key);
      throw badInput(
        `The plan has a cycle among ${stuck.map((k) => `"${k}"`).join(", ")}: every subtask must be reachable without depending on itself`,
      );
    }
    for (const s of ready) {
      ordered.push(s);
      placed.add(s.key);
    }
  }
  return ordered;
}

/**
 * Reads a planner agent's answer: a JSON object `{ "subtasks": [...] }` (or a
 * bare array), alone or in a ```json fence or among other text. Returns the
 * checked, ordered plan, or throws saying what was wrong with it.
 */
export function parsePlan(text: string): PlanSubtask[] {
  const candidates: string[] = [];
  for (const m of text.matchAll(/```(?:json)?\s*\n([\s\S]*?)```/g)) candidates.push(m[1] as string);
  if (/^[[{]/.test(text.trim())) candidates.push(text.trim());
  const brace = text.indexOf("{");
  const last = text.lastIndexOf("}");
  if (brace >= 0 && last > brace) candidates.push(text.slice(brace, last + 1));
  let lastError = "no JSON object found";
  for (const candidate of candidates) {
    let value: unknown;
    try {
      value = JSON.parse(candidate);
    } catch (error) {
      lastError = (error as Error).message;
      continue;
    }
    const list = Array.isArray(value) ? value : (value as { subtasks?: unknown })?.subtasks;
    if (!Array.isArray(list)) {
      lastError = 'the JSON has no "subtasks" list';
      continue;
    }
    return orderPlan(list.map(normalizeSubtask));
  }
  throw badInput(
    `The planner's answer is not a plan (${lastError}). It must be JSON: { "subtasks": [{ "key": "...", "title": "...", "prompt": "...", "dependsOn": ["..."] }] }`,
  );
}

function normalizeSubtask(raw: unknown, i: number): PlanSubtask {
  if (!raw || typeof raw !== "object") throw badInput(`Subtask ${i + 1} is not an object`);
  const r = raw as Record<string, unknown>;
  const text = (v: unknown, max: number, what: string) => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") throw badInput(`Subtask ${i + 1}: ${what} must be text`);
    if (v.length > max) throw badInput(`Subtask ${i + 1}: ${what} is longer than ${max} characters`);
    return v;
  };
  const list = (v: unknown, what: string) => {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string"))
      throw badInput(`Subtask ${i + 1}: ${what} must be a list of strings`);
    return v as string[];
  };
  return {
    key: String(r.key ?? r.id ?? ""),
    title: text(r.title, 200, "title"),
    prompt: text(r.prompt ?? r.description, 200_000, "prompt"),
    command: text(r.command, 100_000, "command"),
    agent: text(r.agent, 64, "agent"),
    tags: list(r.tags, "tags"),
    dependsOn: list(r.dependsOn ?? r.depends_on, "dependsOn"),
  };
}

/** The instruction a planner agent gets: the task, and the shape of the answer. */
export function plannerPrompt(task: string, projectName: string): string {
  return [
    `Split the following task on the project "${projectName}" into subtasks that one agent each can do and that a person can review one at a time.`,
    "Look at the repository first. Do not change any file except loopy.plan.json.",
    "Write the plan to loopy.plan.json at the repository root, and also print it as your final message, as JSON:",
    '{ "subtasks": [ { "key": "short-id", "title": "one line", "prompt": "what the agent must do, self-contained", "dependsOn": ["keys this needs first"] } ] }',
    "Keep it small (2–8 subtasks), make dependencies explicit, no cycles.",
    "",
    "The task:",
    task,
  ].join("\n");
}

import type { Db } from "@loopy/db/client";
import { AppError, notFound } from "../shared/errors.ts";
import { git } from "../shared/git.ts";
import { launchRun } from "../runs/runs.ts";
import type { LaunchDeps } from "../shared/ports.ts";
import { parsePlan, plannerPrompt, type PlanSubtask } from "./dag.ts";

export const PLAN_FILE = "loopy.plan.json";

/**
 * Starts a planner: a run of any agent asked to split `task` into subtasks
 * and write the plan to loopy.plan.json (and say it in its last message).
 * With the command agent, `task` is the command that writes the plan.
 */
export function startPlanner(deps: LaunchDeps, input: { project: string; agent: string; task: string }) {
  const first = input.task.split("\n")[0]?.slice(0, 100) ?? "";
  return launchRun(deps, {
    project: input.project,
    agent: input.agent,
    prompt: plannerPrompt(input.task, input.project),
    command: input.task,
    tags: ["planner"],
    title: `plan: ${first}`,
  });
}

export type PlanState =
  | { state: "planning"; runId: string; status: string }
  | { state: "ready"; runId: string; project: string; subtasks: PlanSubtask[]; source: "file" | "message" }
  | { state: "failed"; runId: string; status: string; error: string };

const WORKING = new Set(["queued", "running", "verifying"]);

/**
 * The plan a planner run produced: loopy.plan.json in its commit, else the
 * last of its messages that holds one. "planning" while it works; "failed"
 * with the reason when there is no usable plan.
 */
export async function planOf(db: Db, runId: string): Promise<PlanState> {
  const run = await db.run.findUnique({
    where: { id: runId },
    select: {
      id: true,
      status: true,
      statusReason: true,
      headSha: true,
      project: { select: { name: true, path: true } },
    },
  });
  if (!run) throw notFound(`No run "${runId}"`);
  if (WORKING.has(run.status)) return { state: "planning", runId, status: run.status };
  const problems: string[] = [];
  if (run.headSha) {
    // No plan file in the planner's commit (the usual failure: git says the path does not exist there), or
    // the repository cannot be read: either way the plan is looked for in its messages next, and the
    // answer says what is missing.
    const text = await git(run.project.path, ["show", `${run.headSha}:${PLAN_FILE}`]).catch(() => null);
    if (text !== null) {
      try {
        return { state: "ready", runId, project: run.project.name, subtasks: parsePlan(text), source: "file" };
      } catch (error) {
        problems.push(`${PLAN_FILE}: ${(error as Error).message}`);
      }
    }
  }
  const messages = await db.runEvent.findMany({
    where: { runId, type: "message" },
    orderBy: { id: "desc" },
    take: 20,
    select: { data: true },
  });
  for (const m of messages) {
    const text = (m.data as { text?: string }).text ?? "";
    if (!text.includes("subtasks") && !text.includes("[")) continue;
    try {
      return { state: "ready", runId, project: run.project.name, subtasks: parsePlan(text), source: "message" };
    } catch (error) {
      if (error instanceof AppError) problems.push(`its message: ${error.message}`);
    }
  }
  const why =
    problems[0] ??
    `the planner wrote no ${PLAN_FILE} and said no plan${run.statusReason ? ` (it ended ${run.status}: ${run.statusReason})` : ""}`;
  return { state: "failed", runId, status: run.status, error: why };
}

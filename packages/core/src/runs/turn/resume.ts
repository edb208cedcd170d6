import type { RunStatus } from "@loopy/db/client";
import { findAgent } from "@loopy/agents/registry";
import { ensureLoopWorktree } from "../../research/worktree.ts";
import { appendRunEvents } from "../../live/run-events.ts";
import { killRunProcesses } from "../run-processes.ts";
import { MAX_INTERRUPTIONS, type RunLease } from "../run-recovery.ts";
import { transitionRun } from "../runs.ts";
import { resetWorkspace } from "../../projects/workspace.ts";
import { dropRunFiles, type ExecuteRunDeps, type TurnRow } from "./context.ts";

/** Where an execution picks the run up. */
export interface Resume {
  turn: TurnRow;
  firstTurn: boolean;
  checksOnly: boolean;
  /** A take-over already reset the worktree to where the turn starts. */
  worktreeReady?: boolean;
}

/**
 * After a take-over: kills what the previous holder left running, then either
 * ends the run (a cancel that came while nobody held it; a second crash) or
 * says where to pick up: the first unfinished turn, re-run from the commit the
 * turn before it left (the worktree is reset to it, the killed attempt's files
 * and commits dropped), or the last turn's checks when the agent had finished.
 */
export async function planResume(
  deps: ExecuteRunDeps,
  lease: RunLease,
  run: { runId: string; repo: string; worktree: string; branch: string; baseSha: string; agent: string },
  taken: { crashed: boolean; interruptions: number },
): Promise<Resume | "ended"> {
  const { db } = deps;
  const { runId, repo, worktree } = run;
  // First, so nothing the previous holder started writes to the worktree any more.
  const killed = await killRunProcesses(deps.loopyHome, [runId]);
  const leftovers = killed.length ? `; killed ${killed.length} process(es) it left` : "";
  const end = async (to: RunStatus, reason: string, keepWorktree = false): Promise<"ended"> => {
    if (!keepWorktree) await dropRunFiles(deps, runId, repo, worktree);
    await transitionRun(deps, runId, to, {
      from: ["running", "verifying"],
      reason,
      holder: lease.holder,
      data: { holder: null, heartbeatAt: null },
    });
    return "ended";
  };
  // A cancel that arrived while nobody held the run (nobody heard it): honour it now.
  const lastStatus = await db.runEvent.findFirst({
    where: { runId, type: "status" },
    orderBy: { id: "desc" },
    select: { id: true },
  });
  const cancel = await db.runEvent.findFirst({
    where: { runId, type: "cancel_requested", ...(lastStatus ? { id: { gt: lastStatus.id } } : {}) },
    select: { id: true },
  });
  if (cancel) return end("cancelled", `Cancelled while no worker held it${leftovers}`);
  if (taken.crashed && taken.interruptions > MAX_INTERRUPTIONS) {
    return end(
      "failed",
      `Worker died mid-run (${taken.interruptions} times); the turn is not re-run again${leftovers}. Launch the run again to retry`,
    );
  }
  const why = taken.crashed
    ? "Worker died mid-run (killed, or stopped renewing its lease)"
    : "Handed over by a worker that shut down";
  const turns = await db.runTurn.findMany({
    where: { runId },
    orderBy: { index: "asc" },
    select: { id: true, index: true, prompt: true, kind: true, status: true, headSha: true, reason: true },
  });
  const open = turns.find((t) => t.status !== "done");
  const last = turns.filter((t) => t.status === "done").at(-1);
  const startOf = (index: number) => turns.filter((t) => t.index < index && t.headSha).at(-1)?.headSha ?? run.baseSha;
  const resetTo = async (sha: string) => {
    await ensureLoopWorktree(repo, worktree, run.branch, run.baseSha);
    await resetWorkspace({ repo, dir: worktree, branch: run.branch }, sha);
  };
  if (open) {
    await resetTo(startOf(open.index));
    await db.runTurn.update({ where: { id: open.id }, data: { status: "pending", startedAt: null } });
    await db.checkpointResult.deleteMany({ where: { runId, turnIndex: open.index } });
    await transitionRun(deps, runId, "running", { from: ["verifying"], keepStartedAt: true, holder: lease.holder });
    await appendRunEvents(db, deps.notifier, runId, [
      { type: "error", message: `${why}; re-running turn ${open.index + 1} from its start${leftovers}` },
    ]);
    return { turn: open, firstTurn: false, checksOnly: false, worktreeReady: true };
  }
  if (!last?.headSha)
    return end("failed", `${why} before its first turn was recorded${leftovers}. Launch the run again to retry`);
  if (last.reason) {
    // The turn itself had failed (or was stopped): what the worker was about to record.
    const isCommand = findAgent(run.agent)?.takes === "command";
    return isCommand ? end("failed", last.reason) : end("needs_attention", last.reason, true);
  }
  await resetTo(last.headSha);
  await appendRunEvents(db, deps.notifier, runId, [
    {
      type: "error",
      message: `${why} after turn ${last.index + 1} finished; running its checkpoints again${leftovers}`,
    },
  ]);
  return { turn: last, firstTurn: false, checksOnly: true, worktreeReady: true };
}

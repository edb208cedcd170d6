import { mkdir } from "node:fs/promises";
import path from "node:path";
import { findAgent } from "@loopy/agents/registry";
import type { AgentOutcome } from "@loopy/agents/adapter";
import { addWorktree, commitAll, removeWorktree } from "./git.ts";
import { diffCommits } from "./diff.ts";
import { appendRunEvents, RunEventWriter } from "./run-events.ts";
import { transitionRun, worktreePathFor } from "./runs.ts";
import type { CoreDeps } from "./ports.ts";

export interface ExecuteRunDeps extends CoreDeps {
  loopyHome: string;
}

const LOG_TAIL_LINES = 60;

/**
 * Executes one queued run from start to end, in the worker:
 * claim (queued → running) → worktree on loopy/run-<id> from the base commit →
 * agent turn with timeout and process-group kill → commit what changed →
 * diff against the base → succeeded | failed | cancelled → remove the worktree
 * (the branch keeps the commit).
 *
 * A run that is no longer queued (cancelled before a worker took it, or already
 * handled) is left alone. Every failure ends as a `failed` run with a reason.
 */
export async function executeRun(deps: ExecuteRunDeps, runId: string, signal: AbortSignal): Promise<void> {
  const { db } = deps;
  const run = await db.run.findUnique({
    where: { id: runId },
    select: { id: true, status: true, agent: true, baseSha: true, branch: true, timeoutMs: true, project: { select: { path: true } }, task: { select: { prompt: true } } },
  });
  if (!run) return;
  if (run.status === "running") {
    // The job came back after its worker died mid-run. Its process is gone; say so instead of leaving it "running".
    await transitionRun(deps, runId, "failed", { from: ["running"], reason: "The worker running this run stopped before it finished; launch it again" });
    return;
  }
  if (!(await transitionRun(deps, runId, "running", { from: ["queued"] }))) return;

  const repo = run.project.path;
  const worktree = worktreePathFor(deps.loopyHome, runId);
  const events = new RunEventWriter(db, deps.notifier, runId);
  const tail: string[] = [];
  let outcome: AgentOutcome | undefined;
  let worktreeAdded = false;
  let final: { to: "succeeded" | "failed" | "cancelled"; reason?: string };
  try {
    const adapter = findAgent(run.agent);
    if (!adapter) throw new Error(`This worker has no "${run.agent}" agent`);
    await mkdir(path.dirname(worktree), { recursive: true });
    await addWorktree(repo, worktree, run.branch, run.baseSha);
    worktreeAdded = true;
    await db.run.update({ where: { id: runId }, data: { worktreePath: worktree } });
    events.push({ type: "worktree", path: worktree, branch: run.branch, baseSha: run.baseSha });

    outcome = await adapter.run({ cwd: worktree, instruction: run.task.prompt, timeoutMs: run.timeoutMs, signal }, (event) => {
      if (event.type === "log") {
        tail.push(event.line);
        if (tail.length > LOG_TAIL_LINES) tail.shift();
      }
      events.push(event);
    });
    await events.flush();

    const headSha = (await commitAll(worktree, `loopy: run ${runId}\n\n${run.task.prompt}`)) ?? run.baseSha;
    const diff = await diffCommits(repo, run.baseSha, headSha);
    await appendRunEvents(db, deps.notifier, runId, [
      { type: "diff", files: diff.files.length, additions: diff.additions, deletions: diff.deletions, headSha: headSha === run.baseSha ? null : headSha },
    ]);
    await db.run.update({
      where: { id: runId },
      data: {
        headSha,
        exitCode: outcome.exitCode,
        diff: diff.patch,
        diffStats: diff.files as unknown as object,
        additions: diff.additions,
        deletions: diff.deletions,
        logTail: tail.join("\n"),
      },
    });
    final = { to: outcome.cancelled ? "cancelled" : outcome.ok ? "succeeded" : "failed", reason: outcome.reason };
  } catch (error) {
    await events.flush().catch(() => undefined);
    await db.run
      .update({ where: { id: runId }, data: { logTail: tail.join("\n"), exitCode: outcome?.exitCode ?? null } })
      .catch(() => undefined);
    final = { to: "failed", reason: (error as Error).message };
  }
  // Clean up before the final transition, so whoever sees the end state sees a finished row.
  if (worktreeAdded) await removeWorktree(repo, worktree).catch(() => undefined);
  await db.run.update({ where: { id: runId }, data: { worktreePath: null } }).catch(() => undefined);
  await transitionRun(deps, runId, final.to, { from: ["running"], reason: final.reason });
}

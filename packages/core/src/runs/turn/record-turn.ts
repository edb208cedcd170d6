import type { AgentOutcome } from "@loopy/agents/adapter";
import { diffCommits, type RunDiff } from "../../shared/diff.ts";
import { collectNotes } from "../../projects/memory.ts";
import { stripNul } from "../../live/run-events.ts";
import type { Redactor } from "../../secrets/redact.ts";
import { agentGitTampering, BranchMovedError, snapshotWorkspace } from "../../projects/workspace.ts";
import type { RunSpend } from "./decide-turn.ts";
import {
  emptyDiff,
  type Ending,
  type ExecuteRunDeps,
  type TurnContext,
  type TurnRow,
  type TurnTools,
} from "./context.ts";

/** What a finished agent turn left in git and in the run's totals. */
export interface RecordedTurn {
  headSha: string;
  /** The run's diff, base → head. */
  diff: RunDiff;
  /** Set when the turn did something a human must look at before anything else runs (git tampering, a secret in a file). */
  securityStop: string | null;
  /** The run's totals, this turn included. */
  spent: RunSpend;
}

/**
 * Step 2 after the agent's exit: collects its notes into the project memory,
 * commits the worktree on the run's branch, diffs against the base, and
 * records usage and cost on the turn and the run. Ends the run (needs
 * attention) when the run's branch moved under Loopy.
 */
export async function recordTurn(
  deps: ExecuteRunDeps,
  ctx: TurnContext,
  tools: TurnTools,
  turn: TurnRow,
  outcome: AgentOutcome,
  previousHead: string,
  sessionId: string | null,
): Promise<RecordedTurn | Ending> {
  await collectTurnNotes(deps, ctx, tools);
  const committed = await commitTurn(ctx, tools, turn, previousHead);
  if ("to" in committed) return committed;
  const { headSha, securityStop } = committed;
  const diff = headSha === ctx.baseSha ? emptyDiff() : await diffCommits(ctx.repo, ctx.baseSha, headSha);
  await tools.append([
    {
      type: "diff",
      files: diff.files.length,
      additions: diff.additions,
      deletions: diff.deletions,
      headSha: headSha === ctx.baseSha ? null : headSha,
    },
  ]);
  const spent = await recordUsage(deps, ctx, turn, outcome, { headSha, diff, sessionId });
  return { headSha, diff, securityStop, spent };
}

/** Notes are a bonus: failing to store them must never cost the turn its work (the failure goes to the run's log). */
async function collectTurnNotes(deps: ExecuteRunDeps, ctx: TurnContext, tools: TurnTools): Promise<void> {
  const { redactor } = ctx;
  const noted = await collectNotes(deps.db, ctx.projectId, ctx.runId, ctx.worktree, (text) =>
    redactor.text(text),
  ).catch((error: Error) => `could not store the agent's notes: ${error.message}`);
  if (!noted) return;
  await tools.append([
    noted === true
      ? { type: "message", text: "Added the agent's notes to the project memory" }
      : { type: "error", message: noted },
  ]);
}

/** Loopy commits the files on its own branch; nothing the agent did to git is trusted (see workspace.ts). */
async function commitTurn(
  ctx: TurnContext,
  tools: TurnTools,
  turn: TurnRow,
  previousHead: string,
): Promise<{ headSha: string; securityStop: string | null } | Ending> {
  const { redactor } = ctx;
  const ws = { repo: ctx.repo, dir: ctx.worktree, branch: ctx.branch };
  const tampering = agentGitTampering(ws);
  const secretFiles = new Map<string, string[]>();
  let headSha: string;
  try {
    const snapshot = await snapshotWorkspace(ws, {
      parent: previousHead,
      message: `loopy: run ${ctx.runId}, turn ${turn.index + 1}\n\n${redactor.text(turn.prompt.slice(0, 2000))}`,
      rewrite: redactor.empty ? undefined : (file, content) => redactFile(redactor, file, content, secretFiles),
    });
    headSha = snapshot.sha;
  } catch (error) {
    if (!(error instanceof BranchMovedError)) throw error;
    await tools.append([{ type: "error", message: error.message }]);
    return { to: "needs_attention", reason: error.message, keepWorktree: true };
  }
  let securityStop: string | null = null;
  if (tampering) securityStop = `${tampering}; Loopy committed the files on ${ctx.branch} as usual, review what it did`;
  if (secretFiles.size > 0) {
    const list = [...secretFiles].map(([file, names]) => `${file} (${names.join(", ")})`).join(", ");
    securityStop = `${securityStop ? `${securityStop}; ` : ""}a secret's value was written to ${list}: committed with the value redacted, check the change before approving`;
  }
  return { headSha, securityStop };
}

/** Usage and cost on the turn, and the run's totals (returned, for the budget). */
async function recordUsage(
  deps: ExecuteRunDeps,
  ctx: TurnContext,
  turn: TurnRow,
  outcome: AgentOutcome,
  head: { headSha: string; diff: RunDiff; sessionId: string | null },
): Promise<RunSpend> {
  const { db } = deps;
  const { redactor } = ctx;
  const usage = outcome.usage ?? { inputTokens: 0, outputTokens: 0 };
  await db.runTurn.update({
    where: { id: turn.id },
    data: {
      status: "done",
      finishedAt: new Date(),
      headSha: head.headSha,
      exitCode: outcome.exitCode,
      reason: redactor.text(outcome.reason),
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      costUsd: usage.costUsd ?? 0,
    },
  });
  return db.run.update({
    where: { id: ctx.runId },
    data: {
      headSha: head.headSha,
      sessionId: head.sessionId,
      exitCode: outcome.exitCode,
      ...storedDiff(head.diff, redactor),
      logTail: stripNul(ctx.tail.join("\n")),
      inputTokens: { increment: usage.inputTokens },
      outputTokens: { increment: usage.outputTokens },
      costUsd: { increment: usage.costUsd ?? 0 },
    },
    select: { inputTokens: true, outputTokens: true, costUsd: true },
  });
}

/** The diff as stored on the run; a secret value the agent wrote into a file shows as [redacted:NAME] (git still has it). */
function storedDiff(diff: RunDiff, redactor: Redactor) {
  return {
    diff: stripNul(redactor.text(diff.patch)),
    diffStats: redactor.deep(diff.files) as unknown as object,
    additions: diff.additions,
    deletions: diff.deletions,
  };
}

/**
 * A file's content with the values of the run's secrets redacted, or null to
 * keep it (binary files and files with no secret). Notes which secrets each
 * file held.
 */
function redactFile(redactor: Redactor, file: string, content: Buffer, found: Map<string, string[]>): Buffer | null {
  if (content.includes(0)) return null;
  const text = content.toString("utf8");
  const names = redactor.hits(text);
  if (names.length === 0) return null;
  found.set(file, names);
  return Buffer.from(redactor.text(text), "utf8");
}

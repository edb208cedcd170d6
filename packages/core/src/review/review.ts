import { findAgent } from "@loopy/agents/registry";
import { Prisma, type Db, type RunStatus } from "@loopy/db/client";
import { AppError, badInput, conflict, notFound } from "../shared/errors.ts";
import { git, lineCount, mergeBranch } from "../shared/git.ts";
import { removeWorkspace } from "../projects/workspace.ts";
import { diffCommits } from "../shared/diff.ts";
import { newId } from "../shared/ids.ts";
import { appendRunEvents } from "../live/run-events.ts";
import { runSummarySelect, transitionRun, worktreePathFor } from "../runs/runs.ts";
import type { LaunchDeps } from "../shared/ports.ts";
import { isTerminal } from "../runs/run-status.ts";
import { rm } from "node:fs/promises";
import path from "node:path";
import { agentStateDir } from "../runs/turn/execute-run.ts";
import { fleetMemberSettled } from "../fleets/dispatch.ts";
import { LOOPY_IDENTITY, mergeMessage, type Approver } from "./merge-message.ts";
import { withRunTimes } from "../runs/run-times.ts";

const REVIEWABLE: RunStatus[] = ["awaiting_review", "needs_attention"];

export type ReviewDeps = LaunchDeps;

const commentSelect = {
  id: true,
  path: true,
  line: true,
  body: true,
  status: true,
  headSha: true,
  sentInTurn: true,
  createdAt: true,
} as const;

async function reviewable(db: Db, runId: string) {
  const run = await db.run.findUnique({
    where: { id: runId },
    select: {
      id: true,
      status: true,
      statusReason: true,
      agent: true,
      branch: true,
      headSha: true,
      checksPassed: true,
      turns: true,
      diffStats: true,
      project: {
        select: {
          path: true,
          defaultBranch: true,
          mergeStrategy: true,
          commitAuthorName: true,
          commitAuthorEmail: true,
        },
      },
      task: { select: { title: true, prompt: true, agentProfile: { select: { name: true } } } },
    },
  });
  if (!run) throw notFound(`No run "${runId}". List runs with "loopy runs".`);
  return run;
}

function refuseUnlessReviewable(run: { id: string; status: RunStatus }, action: string): void {
  if (REVIEWABLE.includes(run.status)) return;
  if (isTerminal(run.status))
    throw conflict(`Run ${run.id} already ended (${run.status}); it cannot be ${action}. Launch a new run instead.`);
  throw conflict(`Run ${run.id} is ${run.status}; wait until it is awaiting review`);
}

function pendingTurn(db: Db, runId: string) {
  return db.runTurn.findFirst({ where: { runId, status: "pending" }, select: { index: true } });
}

/** Every run waiting for a human: green checks first, then oldest first. */
export async function listInbox(db: Db) {
  const runs = await db.run.findMany({
    where: { status: { in: REVIEWABLE } },
    select: { ...runSummarySelect, _count: { select: { comments: { where: { status: "pending" } } } } },
    orderBy: [{ createdAt: "asc" }],
  });
  const rank = (r: (typeof runs)[number]) => (r.status === "needs_attention" ? 2 : r.checksPassed === false ? 1 : 0);
  return withRunTimes(
    db,
    runs.sort((a, b) => rank(a) - rank(b) || a.createdAt.getTime() - b.createdAt.getTime()),
  );
}

/** Counts for the navigation badges. */
export async function reviewCounts(db: Db): Promise<{ awaitingReview: number; needsAttention: number }> {
  const [awaitingReview, needsAttention] = await Promise.all([
    db.run.count({ where: { status: "awaiting_review" } }),
    db.run.count({ where: { status: "needs_attention" } }),
  ]);
  return { awaitingReview, needsAttention };
}

export function listComments(db: Db, runId: string) {
  return db.reviewComment.findMany({ where: { runId }, orderBy: [{ createdAt: "asc" }], select: commentSelect });
}

/** A comment on a line of the run's current diff (new-file line numbers). */
export async function addComment(deps: ReviewDeps, runId: string, input: { path: string; line: number; body: string }) {
  const run = await reviewable(deps.db, runId);
  refuseUnlessReviewable(run, "commented on");
  const body = input.body.trim();
  if (!body) throw badInput("The comment is empty");
  const files = (run.diffStats ?? []) as Array<{ path: string }>;
  if (!files.some((f) => f.path === input.path)) throw badInput(`${input.path} is not part of run ${runId}'s diff`);
  const lines = run.headSha ? await lineCount(run.project.path, run.headSha, input.path) : null;
  if (lines === null) throw badInput(`${input.path} does not exist in the run's current version (deleted?)`);
  if (!Number.isInteger(input.line) || input.line < 1 || input.line > lines) {
    throw badInput(`Line ${input.line} is not in ${input.path} (it has ${lines} lines in the run's current version)`);
  }
  const comment = await deps.db.reviewComment.create({
    data: { id: newId(), runId, path: input.path, line: input.line, body, headSha: run.headSha },
    select: commentSelect,
  });
  await deps.notifier.runChanged(runId, run.status);
  return comment;
}

export async function deleteComment(deps: ReviewDeps, commentId: string): Promise<void> {
  const comment = await deps.db.reviewComment.findUnique({
    where: { id: commentId },
    select: { runId: true, status: true },
  });
  if (!comment) throw notFound(`No comment "${commentId}"`);
  if (comment.status !== "pending") throw conflict("Only comments not yet sent can be deleted");
  await deps.db.reviewComment.delete({ where: { id: commentId } });
}

/** The follow-up message a request for changes becomes: the summary, then every comment with file and line. */
function reviewFeedback(
  summary: string | undefined,
  comments: Array<{ path: string; line: number; body: string }>,
): string {
  const parts = ["A reviewer asked for changes to your work."];
  if (summary?.trim()) parts.push("", summary.trim());
  if (comments.length) {
    parts.push("", "Comments on the diff:");
    for (const c of comments) parts.push(`- ${c.path}:${c.line}: ${c.body}`);
  }
  parts.push("", "Address every point in the worktree, then finish.");
  return parts.join("\n");
}

/**
 * Sends the pending comments (plus comments given here, and an optional summary)
 * to the same agent session as one follow-up, and queues the turn. The run goes
 * back to running, then checkpoints, then back to the inbox.
 */
export async function requestChanges(
  deps: ReviewDeps,
  runId: string,
  input: { message?: string; comments?: Array<{ path: string; line: number; body: string }> },
) {
  const run = await reviewable(deps.db, runId);
  refuseUnlessReviewable(run, "sent a follow-up");
  const adapter = findAgent(run.agent);
  if (!adapter?.resumable)
    throw badInput(`The ${run.agent} agent cannot take follow-ups; reject the run and launch a new one`);
  if (await pendingTurn(deps.db, runId))
    throw conflict(`Changes were already requested for run ${runId}; wait for the agent's turn`);
  for (const c of input.comments ?? []) await addComment(deps, runId, c);
  const pending = await deps.db.reviewComment.findMany({
    where: { runId, status: "pending" },
    orderBy: { createdAt: "asc" },
    select: { id: true, path: true, line: true, body: true },
  });
  if (!input.message?.trim() && pending.length === 0)
    throw badInput("Say what should change: a message or at least one comment");
  const index = run.turns;
  try {
    await deps.db.$transaction([
      deps.db.runTurn.create({
        data: { id: newId(), runId, index, kind: "review_feedback", prompt: reviewFeedback(input.message, pending) },
      }),
      deps.db.reviewComment.updateMany({
        where: { id: { in: pending.map((c) => c.id) } },
        data: { status: "sent", sentInTurn: index },
      }),
    ]);
  } catch (error) {
    // Two requests at once: the turn number is unique, the second loses.
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002")
      throw conflict(`Changes were already requested for run ${runId}; wait for the agent's turn`);
    throw error;
  }
  try {
    await deps.scheduler.enqueue(runId, index);
  } catch (error) {
    // Nothing will run the turn: take it back, so the reviewer can try again.
    await deps.db.$transaction([
      deps.db.runTurn.deleteMany({ where: { runId, index, status: "pending" } }),
      deps.db.reviewComment.updateMany({
        where: { runId, sentInTurn: index },
        data: { status: "pending", sentInTurn: null },
      }),
    ]);
    throw new AppError("UNAVAILABLE", `Could not queue the follow-up: ${(error as Error).message}`);
  }
  await appendRunEvents(deps.db, deps.notifier, runId, [
    {
      type: "message",
      text: `Review: changes requested (${pending.length} comment${pending.length === 1 ? "" : "s"})`,
    },
  ]);
  return { runId, turn: index, comments: pending.length };
}

export async function cleanUp(deps: ReviewDeps, run: { id: string; project: { path: string } }) {
  // Best effort: the run has ended, and a worker's reconcile on start removes an ended run's leftover worktree.
  await removeWorkspace(run.project.path, worktreePathFor(deps.loopyHome, run.id)).catch(() => undefined);
  await rm(agentStateDir(deps.loopyHome, run.id), { recursive: true, force: true }).catch(() => undefined);
  await deps.db.run.update({ where: { id: run.id }, data: { worktreePath: null } });
}

/** What approving does with comments not sent yet: refuse (the default), or discard them. */
export type PendingCommentsChoice = "refuse" | "discard";

/**
 * Approves a run: merges its branch into the project's default branch (merge
 * commit or squash, per project). Refused when a required checkpoint is not
 * green, and on a conflict (with the files, so the agent can be asked to rebase).
 * Also refused while the run has comments not sent yet: merging would end the
 * run and they would never reach the agent. The reviewer sends them first
 * (`requestChanges`) or says `pendingComments: "discard"`; discarded comments
 * stay, marked "discarded", with a line in the run's log.
 */
export async function approveRun(
  deps: ReviewDeps,
  runId: string,
  options: { pendingComments?: PendingCommentsChoice; approver?: Approver } = {},
) {
  const run = await reviewable(deps.db, runId);
  if (run.status === "needs_attention") {
    throw conflict(`Run ${runId} needs attention (${run.statusReason ?? "see its log"}); request changes or reject it`);
  }
  refuseUnlessReviewable(run, "approved");
  if (await pendingTurn(deps.db, runId))
    throw conflict(`Changes were requested for run ${runId}; wait for the agent's turn before approving`);
  if (run.checksPassed === false)
    throw conflict(`Run ${runId} has failing required checkpoints; it cannot be approved`);
  if (!run.headSha) throw conflict(`Run ${runId} has no commit to merge`);
  const pending = await deps.db.reviewComment.findMany({ where: { runId, status: "pending" }, select: { id: true } });
  if (pending.length && options.pendingComments !== "discard") throw conflict(pendingCommentsRefusal(pending.length));
  const result = await mergeBranch(run.project.path, {
    target: run.project.defaultBranch,
    // The commit the reviewer saw, not whatever the branch points to now.
    branch: run.headSha,
    strategy: run.project.mergeStrategy === "squash" ? "squash" : "merge",
    message: mergeMessage(
      {
        id: runId,
        agent: run.agent,
        profile: run.task.agentProfile?.name,
        turns: run.turns,
        task: run.task,
        checks: await approvedChecks(deps.db, runId, run.turns),
      },
      options.approver ?? { name: "loopy" },
      deps.publicUrl ?? DEFAULT_PUBLIC_URL,
    ),
    author: run.project.commitAuthorName
      ? { name: run.project.commitAuthorName, email: run.project.commitAuthorEmail || LOOPY_IDENTITY.email }
      : LOOPY_IDENTITY,
    scratchDir: path.join(deps.loopyHome, "worktrees"),
  });
  if (!result.ok) {
    if ("conflicts" in result) {
      throw conflict(
        `Merging into ${run.project.defaultBranch} conflicts in ${result.conflicts.join(", ")}. Request changes and ask the agent to rebase onto ${run.project.defaultBranch}.`,
      );
    }
    throw conflict(result.blocked);
  }
  if (
    !(await transitionRun(deps, runId, "merged", {
      from: ["awaiting_review"],
      data: { mergedSha: result.sha },
      reason: `Merged into ${run.project.defaultBranch} as ${result.sha.slice(0, 8)}`,
    }))
  ) {
    throw conflict(`Run ${runId} changed state while it was being approved`);
  }
  // Only the comments counted before the merge: the reviewer agreed to lose those.
  const discarded = pending.length
    ? (
        await deps.db.reviewComment.updateMany({
          where: { id: { in: pending.map((c) => c.id) }, status: "pending" },
          data: { status: "discarded" },
        })
      ).count
    : 0;
  if (discarded)
    await appendRunEvents(deps.db, deps.notifier, runId, [
      {
        type: "message",
        text: `Review: ${discarded} comment${discarded === 1 ? "" : "s"} not sent, discarded on approval`,
      },
    ]);
  await cleanUp(deps, run);
  // A decomposed task's next subtasks may start now. Not an error of the approval when it fails: the workers'
  // fleet sweep finds them within a second.
  await fleetMemberSettled(deps, runId).catch(() => undefined);
  return { runId, mergedSha: result.sha, target: run.project.defaultBranch, discardedComments: discarded };
}

/** The refusal's message, the same for the API, the CLI and the web page. */
function pendingCommentsRefusal(count: number): string {
  return `${count} comment${count === 1 ? "" : "s"} not sent yet: send ${count === 1 ? "it" : "them"} as a change request, or discard ${count === 1 ? "it" : "them"}`;
}

/** LOOPY_URL's default, for callers that do not say where Loopy is served. */
const DEFAULT_PUBLIC_URL = "http://127.0.0.1:3000";

/** The checkpoint results of the run's latest turn: what was green when it was approved. */
function approvedChecks(db: Db, runId: string, turns: number) {
  return db.checkpointResult.findMany({
    where: { runId, turnIndex: Math.max(0, turns - 1) },
    orderBy: { createdAt: "asc" },
    select: { name: true, passed: true, required: true, durationMs: true },
  });
}

/** Rejects a run: it ends, its worktree goes; the branch stays for the record. */
export async function rejectRun(deps: ReviewDeps, runId: string, reason?: string) {
  const run = await reviewable(deps.db, runId);
  refuseUnlessReviewable(run, "rejected");
  if (
    !(await transitionRun(deps, runId, "rejected", {
      from: REVIEWABLE,
      reason: reason?.trim() || "Rejected in review",
    }))
  ) {
    throw conflict(`Run ${runId} changed state while it was being rejected`);
  }
  await cleanUp(deps, run);
  // As in approve: the workers' fleet sweep also finds what this would dispatch.
  await fleetMemberSettled(deps, runId).catch(() => undefined);
  return { runId };
}

/** Every checkpoint result of every turn of a run. */
export async function listCheckpointResults(db: Db, runId: string) {
  if (!(await db.run.findUnique({ where: { id: runId }, select: { id: true } }))) throw notFound(`No run "${runId}"`);
  return db.checkpointResult.findMany({
    where: { runId },
    orderBy: [{ turnIndex: "asc" }, { createdAt: "asc" }],
    select: {
      id: true,
      turnIndex: true,
      name: true,
      kind: true,
      required: true,
      passed: true,
      durationMs: true,
      output: true,
      counts: true,
    },
  });
}

/** The change one turn made: from the previous turn's commit (or the base) to this turn's. */
export async function turnDiff(db: Db, runId: string, turnIndex: number) {
  const run = await db.run.findUnique({
    where: { id: runId },
    select: { baseSha: true, project: { select: { path: true } } },
  });
  if (!run) throw notFound(`No run "${runId}"`);
  const turns = await db.runTurn.findMany({
    where: { runId, index: { lte: turnIndex } },
    orderBy: { index: "asc" },
    select: { index: true, headSha: true },
  });
  const turn = turns.find((t) => t.index === turnIndex);
  if (!turn) throw notFound(`Run ${runId} has no turn ${turnIndex + 1}`);
  if (!turn.headSha) throw conflict(`Turn ${turnIndex + 1} of run ${runId} has not finished`);
  const before = turns.filter((t) => t.index < turnIndex && t.headSha).at(-1)?.headSha ?? run.baseSha;
  const diff = await diffCommits(run.project.path, before, turn.headSha);
  return { turnIndex, from: before, to: turn.headSha, diff: diff.patch, diffStats: diff.files };
}

export function listTurns(db: Db, runId: string) {
  return db.runTurn.findMany({
    where: { runId },
    orderBy: { index: "asc" },
    select: {
      index: true,
      kind: true,
      prompt: true,
      status: true,
      headSha: true,
      exitCode: true,
      reason: true,
      inputTokens: true,
      outputTokens: true,
      costUsd: true,
      startedAt: true,
      finishedAt: true,
    },
  });
}

/** At most this many lines come back from one `fileLines` call. */
const MAX_CONTEXT_LINES = 5_000;
/** Larger files are not read for `fileLines` (a gap in a 50 MB file is not worth the memory). */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Lines `start`..`end` (1-based, inclusive) of `file` as it is at `commit`, for
 * the diff viewer's "expand unchanged lines". Only the run's own commits (its
 * base, its head, the head of any turn) can be read, so the viewer cannot be
 * used to browse the rest of the repository's history.
 */
export async function fileLines(
  db: Db,
  input: { runId: string; commit: string; path: string; start: number; end: number },
) {
  const run = await db.run.findUnique({
    where: { id: input.runId },
    select: {
      baseSha: true,
      headSha: true,
      project: { select: { path: true } },
      runTurns: { select: { headSha: true } },
    },
  });
  if (!run) throw notFound(`No run "${input.runId}"`);
  const commits = new Set([run.baseSha, run.headSha, ...run.runTurns.map((t) => t.headSha)].filter(Boolean));
  if (!commits.has(input.commit))
    throw badInput(`Commit ${input.commit.slice(0, 12)} is not one of run ${input.runId}'s commits`);
  if (input.end < input.start) throw badInput(`The range ${input.start}–${input.end} is empty`);
  if (input.path.split("/").includes("..") || input.path.startsWith("/") || input.path.includes("\u0000"))
    throw badInput(`Path refused: "${input.path}" is not a path inside the repository`);
  // The object at <commit>:<path> is read from git's database, never the file system, so a symlink shows its target's name, not the target.
  const object = `${input.commit}:${input.path}`;
  const type = await git(run.project.path, ["cat-file", "-t", object]).catch(() => null);
  if (type !== "blob") throw notFound(`${input.path} is not a file in commit ${input.commit.slice(0, 12)}`);
  const size = Number(await git(run.project.path, ["cat-file", "-s", object]));
  if (size > MAX_FILE_BYTES)
    throw badInput(
      `${input.path} is ${size} bytes; files over ${MAX_FILE_BYTES / 1024 / 1024} MB are not shown line by line`,
    );
  const text = await git(run.project.path, ["cat-file", "blob", object], {
    trim: false,
    maxBuffer: MAX_FILE_BYTES + 1024,
  });
  if (text.slice(0, 8000).includes("\u0000"))
    throw badInput(`${input.path} is a binary file (${size} bytes); it has no lines to show`);
  const all = text.split("\n");
  if (text.endsWith("\n")) all.pop();
  const start = Math.max(1, input.start);
  const end = Math.min(all.length, input.end, start + MAX_CONTEXT_LINES - 1);
  return { start, end, total: all.length, lines: all.slice(start - 1, end) };
}

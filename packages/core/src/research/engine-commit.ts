import type { Params } from "@loopy/research-math/space";
import { diffCommits, type FileChange } from "../shared/diff.ts";
import { stripNul } from "../live/run-events.ts";
import { snapshotWorkspace, type Workspace } from "../projects/workspace.ts";
import { type Ctx, type ExperimentRow, type LoopRow, logOf, resetTo, workspaceOf } from "./engine-context.ts";
import { editableRefusal, protectedRefusal } from "./engine-decisions.ts";
import { proposeWithAgent } from "./engine-propose.ts";
import { changedProtectedFiles } from "./files.ts";
import { writeParamsFile } from "./proposers.ts";
import { pinExperimentCommit } from "./worktree.ts";

/**
 * The change an experiment measures: written (params file or agent edit),
 * committed on the loop's branch and pinned, its diff stored, and guarded
 * (editable globs, protected hashes) before anything runs.
 */

type Diff = Awaited<ReturnType<typeof diffCommits>>;

export interface Prepared {
  commit: string;
  parent: string;
  description: string;
  /** What the change touched (empty for baseline and noise runs; null when Loopy wrote it itself). */
  files: FileChange[] | null;
  /** The diff being stored in the background; awaited before the outcome is recorded. */
  details?: Promise<void>;
  /** Set when the change must not run (the agent failed, a rule was broken). */
  refused?: string;
  cancelled?: boolean;
}

/** Where the experiment's rows are written: only while this claim holds it. */
function claimedBy(experimentId: string, token: string) {
  return { where: { id: experimentId, claimToken: token, status: "running" as const } };
}

/** Stores a commit's diff on the experiment (under the claim). */
async function writeDiff(ctx: Ctx, experimentId: string, token: string, diff: Diff): Promise<void> {
  await ctx.deps.db.experiment.updateMany({
    ...claimedBy(experimentId, token),
    data: {
      diff: stripNul(diff.patch),
      diffStats: diff.files as unknown as object,
      additions: diff.additions,
      deletions: diff.deletions,
    },
  });
}

/** A re-run after a crash: the change was committed (and pinned) by the attempt before. */
export async function reusePrepared(
  ctx: Ctx,
  experiment: ExperimentRow & { commitSha: string },
  best: string,
  token: string,
): Promise<Prepared> {
  await resetTo(ctx, experiment.commitSha);
  const parent = experiment.parentSha ?? best;
  const stored = await ctx.deps.db.experiment.findUnique({
    where: { id: experiment.id },
    select: { diffStats: true },
  });
  let files = stored?.diffStats as FileChange[] | null;
  // The attempt before died between its commit and storing the diff: the rules need it now.
  if (!files) {
    const diff = await diffCommits(ctx.repo, parent, experiment.commitSha);
    await writeDiff(ctx, experiment.id, token, diff);
    files = diff.files;
  }
  return { commit: experiment.commitSha, parent, description: experiment.description, files };
}

/** Writes the change for a candidate and commits it; baseline and noise runs measure the best commit as it is. */
export async function prepare(
  ctx: Ctx,
  loop: LoopRow,
  experiment: ExperimentRow,
  best: string,
  token: string,
): Promise<Prepared> {
  const { db } = ctx.deps;
  const claimed = claimedBy(experiment.id, token);
  if (experiment.kind !== "candidate") {
    await db.experiment.updateMany({ ...claimed, data: { commitSha: best, parentSha: best } });
    return { commit: best, parent: best, description: experiment.description, files: [] };
  }
  let description = experiment.description;
  let refused: string | undefined;
  if (loop.proposer === "agent") {
    const change = await proposeWithAgent(ctx, loop, experiment, token);
    if (change.cancelled) return { commit: best, parent: best, description, files: [], cancelled: true };
    description = change.description;
    refused = change.refused;
  } else {
    await writeParamsFile(ctx.worktree, loop.paramsFile, (experiment.params ?? {}) as Params);
  }
  ctx.cleanAt = null;
  const commit = await commitExperiment(
    workspaceOf(ctx),
    best,
    `loopy research ${loop.id} #${experiment.index}: ${description || "experiment"}`.slice(0, 2000),
  );
  // The commit is on the row before anything runs, so a re-run after a crash measures this very change.
  await db.experiment.updateMany({ ...claimed, data: { commitSha: commit, parentSha: best, description } });
  // The diff is stored once the commit is pinned: a re-run finds it stored only for a pinned commit.
  const details = Promise.all([
    diffCommits(ctx.repo, best, commit),
    pinExperimentCommit(ctx.repo, experiment.id, commit),
  ]).then(async ([diff]) => {
    await writeDiff(ctx, experiment.id, token, diff);
    return diff;
  });
  if (loop.proposer !== "agent") {
    // Loopy itself wrote the only change (the params file, editable by construction) into a clean
    // worktree, so the diff is stored while the experiment runs instead of before it. runExperiment awaits
    // `details` before recording the outcome, where a failure fails the loop; this handler only keeps the
    // rejection from going unhandled when the experiment stops before that (the row then keeps no diff).
    details.catch((error: Error) =>
      logOf(ctx.deps)(`research loop ${loop.id}: storing the diff of #${experiment.index} failed: ${error.message}`),
    );
    return { commit, parent: best, description, files: null, details: details.then(() => undefined), refused };
  }
  const diff = await details;
  if (!refused && diff.files.length === 0) refused = "the agent changed nothing";
  return { commit, parent: best, description, files: diff.files, refused };
}

/**
 * Commits everything in the worktree as one experiment, even when nothing
 * changed (each candidate gets a commit of its own, like autoresearch's).
 */
async function commitExperiment(ws: Workspace, best: string, message: string): Promise<string> {
  return (await snapshotWorkspace(ws, { parent: best, message, allowEmpty: true })).sha;
}

/** Changes outside the editable globs, or protected files whose hash changed, are refused before anything runs. */
export async function checkRules(ctx: Ctx, loop: LoopRow, prepared: Prepared): Promise<string | null> {
  if (prepared.files?.length) {
    const outside = editableRefusal(prepared.files, (loop.editableGlobs as string[]) ?? []);
    if (outside) return outside;
  }
  const changed = await changedProtectedFiles(ctx.worktree, (loop.protectedFiles as Record<string, string>) ?? {});
  return protectedRefusal(changed);
}

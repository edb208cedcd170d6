import { existsSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { git, resolveCommit } from "../shared/git.ts";
import { createWorkspace, removeWorkspace, restoreWorkspace, workspaceIndex } from "../projects/workspace.ts";

/** Where a loop's worktree lives under LOOPY_HOME. */
export function loopWorktreePath(loopyHome: string, loopId: string): string {
  return path.join(loopyHome, "worktrees", `research-${loopId}`);
}

/**
 * The loop's workspace on its branch: created from the base commit the first
 * time, brought back from the branch when it went away (a restart on another
 * machine, a cleaned folder). A plain folder Loopy reads through the
 * project's git folder, never a worktree whose git state the agent or the
 * experiment could steer (see `workspace.ts`).
 */
export async function ensureLoopWorktree(
  repo: string,
  worktree: string,
  branch: string,
  baseSha: string,
): Promise<void> {
  if (
    existsSync(path.join(worktree, ".git")) &&
    statSync(path.join(worktree, ".git")).isDirectory() &&
    existsSync(workspaceIndex(worktree))
  )
    return;
  await mkdir(path.dirname(worktree), { recursive: true, mode: 0o700 });
  const ws = { repo, dir: worktree, branch };
  if (await resolveCommit(repo, `refs/heads/${branch}`)) await restoreWorkspace(ws, baseSha);
  else await createWorkspace(ws, baseSha);
}

export async function dropLoopWorktree(repo: string, worktree: string): Promise<void> {
  await removeWorkspace(repo, worktree).catch(() => undefined);
}

/** Keeps an experiment's commit reachable after a reset (git gc would drop a discarded one). */
export async function pinExperimentCommit(repo: string, experimentId: string, sha: string): Promise<void> {
  await git(repo, ["update-ref", `refs/loopy/experiments/${experimentId}`, sha]);
}

/**
 * Kills what is left of an experiment's process group after its worker died
 * (kill -9 leaves the group running). Only on the machine that started it, and
 * only when the pid still belongs to a process working in the loop's worktree,
 * or to no process at all (then only the group's survivors can carry that id).
 */
export function killOrphanExperiment(pid: number | null, host: string | null, worktree: string): boolean {
  if (!pid || pid <= 1 || host !== hostname()) return false;
  if (existsSync(`/proc/${pid}`)) {
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      return false;
    }
    const root = existsSync(worktree) ? realpathSync(worktree) : worktree;
    if (
      cwd !== root &&
      !cwd.startsWith(`${root}${path.sep}`) &&
      !cwd.startsWith(`${worktree}${path.sep}`) &&
      cwd !== worktree
    )
      return false;
  }
  try {
    process.kill(-pid, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}

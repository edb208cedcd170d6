import { existsSync, readlinkSync, realpathSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { addWorktree, git, removeWorktree, resolveCommit } from "../git.ts";

/** Where a loop's worktree lives under LOOPY_HOME. */
export function loopWorktreePath(loopyHome: string, loopId: string): string {
  return path.join(loopyHome, "worktrees", `research-${loopId}`);
}

/**
 * The loop's worktree on its branch: created from the base commit the first
 * time, brought back from the branch when it went away (a restart on another
 * machine, a cleaned folder).
 */
export async function ensureLoopWorktree(repo: string, worktree: string, branch: string, baseSha: string): Promise<void> {
  if (existsSync(path.join(worktree, ".git"))) return;
  await mkdir(path.dirname(worktree), { recursive: true });
  await git(repo, ["worktree", "prune"]);
  if (await resolveCommit(repo, `refs/heads/${branch}`)) await git(repo, ["worktree", "add", "--force", worktree, branch]);
  else await addWorktree(repo, worktree, branch, baseSha);
}

/**
 * Moves the loop's branch (checked out in the worktree) to `sha` and drops
 * whatever an experiment left behind. Ignored files (caches, dependencies)
 * stay, as they would in a researcher's own checkout.
 */
export async function resetWorktree(worktree: string, sha: string): Promise<void> {
  await git(worktree, ["reset", "--hard", "--quiet", sha]);
  await git(worktree, ["clean", "-fdq"]);
}

export async function dropLoopWorktree(repo: string, worktree: string): Promise<void> {
  await removeWorktree(repo, worktree).catch(() => undefined);
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
    if (cwd !== root && !cwd.startsWith(`${root}${path.sep}`) && !cwd.startsWith(`${worktree}${path.sep}`) && cwd !== worktree) return false;
  }
  try {
    process.kill(-pid, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}

import { execFile, spawn } from "node:child_process";
import { rm, stat } from "node:fs/promises";
import { promisify } from "node:util";
import path from "node:path";
import { inheritedEnv } from "@loopy/config/env";

const exec = promisify(execFile);

export class GitError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = "GitError";
  }
}

/** Only what git needs: Loopy's own secrets (database, Redis, API keys) never reach git or its helpers. */
function gitEnv(): NodeJS.ProcessEnv {
  const env: Record<string, string> = {
    GIT_TERMINAL_PROMPT: "0",
    LC_ALL: "C",
    ...inheritedEnv(["PATH", "HOME", "USER", "TMPDIR", "GIT_CONFIG_NOSYSTEM"]),
  };
  return env as NodeJS.ProcessEnv;
}

/**
 * Runs git with arguments (never through a shell) and returns trimmed stdout.
 * Hooks are off: repository hooks (which an agent could write) never run with
 * Loopy's privileges.
 */
export async function git(
  cwd: string,
  args: string[],
  options: { maxBuffer?: number; trim?: boolean; env?: Record<string, string>; input?: string | Buffer } = {},
): Promise<string> {
  try {
    const run = exec("git", ["-c", "core.hooksPath=/dev/null", ...args], {
      cwd,
      maxBuffer: options.maxBuffer ?? 64 * 1024 * 1024,
      env: { ...gitEnv(), ...options.env },
    });
    if (options.input !== undefined) run.child.stdin?.end(options.input);
    const { stdout } = await run;
    return options.trim === false ? stdout : stdout.trim();
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    const stderr = (e.stderr ?? "").trim();
    throw new GitError(`git ${args[0]} failed: ${stderr || e.message}`, stderr);
  }
}

/**
 * Like `git` but reads at most `maxBytes` of stdout and then stops git, so a
 * huge output (a 50 MB diff) costs neither the memory nor the time to read it
 * all. `cut` says whether there was more. `input` is written to its stdin.
 */
export function gitCapped(
  cwd: string,
  args: string[],
  maxBytes: number,
  input?: string,
): Promise<{ stdout: Buffer; cut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", ["-c", "core.hooksPath=/dev/null", ...args], {
      cwd,
      env: gitEnv(),
      stdio: ["pipe", "pipe", "pipe"],
    });
    child.stdin.on("error", () => undefined); // git may exit (or be killed at the cap) before reading it all
    child.stdin.end(input ?? "");
    const chunks: Buffer[] = [];
    let size = 0;
    let cut = false;
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      if (cut) return;
      chunks.push(chunk);
      size += chunk.length;
      if (size > maxBytes) {
        cut = true;
        child.kill("SIGKILL");
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (stderr.length < 16_384) stderr += chunk.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (!cut && code !== 0) {
        reject(new GitError(`git ${args[0]} failed: ${stderr.trim() || `exit code ${code}`}`, stderr.trim()));
        return;
      }
      const all = Buffer.concat(chunks);
      resolve({ stdout: cut ? all.subarray(0, maxBytes) : all, cut });
    });
  });
}

export type RepoProblem = "missing" | "not_a_directory" | "not_a_repo" | "no_commits" | "bare";

export interface RepoInfo {
  root: string;
  defaultBranch: string;
}

/**
 * Checks that `path` is the top of a non-bare git work tree with at least one
 * commit and returns its root and default branch, or the reason it is not usable.
 */
export async function inspectRepo(
  path: string,
): Promise<{ ok: true; info: RepoInfo } | { ok: false; problem: RepoProblem }> {
  const info = await stat(path).catch(() => null);
  if (!info) return { ok: false, problem: "missing" };
  if (!info.isDirectory()) return { ok: false, problem: "not_a_directory" };
  let root: string;
  try {
    if ((await git(path, ["rev-parse", "--is-bare-repository"])) === "true") return { ok: false, problem: "bare" };
    root = await git(path, ["rev-parse", "--show-toplevel"]);
  } catch {
    return { ok: false, problem: "not_a_repo" };
  }
  try {
    await git(root, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]);
  } catch {
    return { ok: false, problem: "no_commits" };
  }
  return { ok: true, info: { root, defaultBranch: await defaultBranch(root) } };
}

/** The branch a project's runs start from unless told otherwise: origin's HEAD, else the checked-out branch. */
async function defaultBranch(root: string): Promise<string> {
  const remoteHead = await git(root, ["symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"]).catch(
    () => "",
  );
  if (remoteHead) {
    const local = remoteHead.replace(/^origin\//, "");
    const exists = await git(root, ["rev-parse", "--verify", "--quiet", `refs/heads/${local}`]).catch(() => "");
    if (exists) return local;
  }
  const current = await git(root, ["symbolic-ref", "--quiet", "--short", "HEAD"]).catch(() => "");
  if (current) return current;
  return git(root, ["rev-parse", "HEAD"]); // detached HEAD: the commit itself
}

/** Resolves a ref to a commit SHA, or null when the repository has no such commit. */
export async function resolveCommit(root: string, ref: string): Promise<string | null> {
  if (ref.startsWith("-")) return null;
  return git(root, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]).catch(() => null);
}

/**
 * Two `git worktree add` on one repository at once can fail: each reads every
 * worktree's administrative files (is the branch checked out elsewhere?) while
 * the other is still writing its own ("fatal: failed to read
 * .git/worktrees/<id>/commondir"). Two `git worktree remove` likewise: one
 * lists the worktrees while the other deletes its administrative folder
 * ("fatal: Invalid path '.git/worktrees/<id>': No such file or directory").
 * Nothing was done then; trying again works.
 */
const WORKTREE_RACE =
  /failed to read .*worktrees\/[^/]+\/(commondir|gitdir)|Invalid path '.*worktrees\/[^/']+': No such file/;
const WORKTREE_ATTEMPTS = 10;
/**
 * Worktree commands running at once per repository in this process. A fleet
 * starts hundreds of runs together; a git process per run at once only makes
 * the races above likelier and starves the worker (each `worktree add` reads
 * every other worktree, so it costs more the more there are).
 */
const WORKTREE_SLOTS = 8;
const worktreeSlots = new Map<string, { active: number; waiting: Array<() => void> }>();

async function inWorktreeSlot<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const slots = worktreeSlots.get(root) ?? { active: 0, waiting: [] };
  worktreeSlots.set(root, slots);
  if (slots.active >= WORKTREE_SLOTS) await new Promise<void>((resolve) => slots.waiting.push(resolve));
  else slots.active++;
  try {
    return await fn();
  } finally {
    // The slot passes straight to the next waiter (active stays counted), or is freed.
    const next = slots.waiting.shift();
    if (next) next();
    else if (--slots.active === 0) worktreeSlots.delete(root);
  }
}

/** A worktree command on `root`, in one of its slots, tried again when it lost the race above (other processes add worktrees too). */
async function worktreeCommand(root: string, args: string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await inWorktreeSlot(root, () => git(root, args));
      return;
    } catch (error) {
      if (attempt >= WORKTREE_ATTEMPTS || !(error instanceof GitError && WORKTREE_RACE.test(error.stderr))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.random() * 80));
    }
  }
}

/** Removes a worktree and its administrative files; the branch and its commits stay. */
export async function removeWorktree(root: string, path: string): Promise<void> {
  await worktreeCommand(root, ["worktree", "remove", "--force", path]).catch(async () => {
    // Whatever stopped git (a locked worktree, a folder it no longer recognises), the folder goes and git forgets it.
    await rm(path, { recursive: true, force: true });
    await worktreeCommand(root, ["worktree", "prune"]);
  });
}

/** Files with merge conflicts in a worktree. */
async function conflictedFiles(worktree: string): Promise<string[]> {
  return (await git(worktree, ["diff", "--name-only", "--diff-filter=U"]).catch(() => "")).split("\n").filter(Boolean);
}

export type MergeResult =
  | { ok: true; sha: string }
  | { ok: false; conflicts: string[] }
  | { ok: false; blocked: string };

/**
 * Lands `branch` on `target` in `repo` with a merge commit or a squash, without
 * touching the user's working tree unless `target` is checked out there (then
 * it must be clean, and it is fast-forwarded). The merge is made in a
 * temporary detached worktree; the branch moves only if nobody moved it meanwhile.
 * The commit is authored by `author` (Loopy when not given) and always committed by Loopy.
 */
export async function mergeBranch(
  repo: string,
  options: {
    target: string;
    branch: string;
    strategy: "merge" | "squash";
    message: string;
    scratchDir: string;
    author?: { name: string; email: string };
  },
): Promise<MergeResult> {
  const targetSha = await resolveCommit(repo, `refs/heads/${options.target}`);
  if (!targetSha) return { ok: false, blocked: `The target branch "${options.target}" does not exist in ${repo}` };
  const list = await git(repo, ["worktree", "list", "--porcelain"]);
  const checkedOutAt = list
    .split("\n\n")
    .map((block) => ({ path: /^worktree (.*)$/m.exec(block)?.[1], branch: /^branch (.*)$/m.exec(block)?.[1] }))
    .find((w) => w.branch === `refs/heads/${options.target}`)?.path;
  if (checkedOutAt && (await git(checkedOutAt, ["status", "--porcelain", "--untracked-files=no"]))) {
    return {
      ok: false,
      blocked: `"${options.target}" is checked out at ${checkedOutAt} with uncommitted changes; commit or stash them, then approve again`,
    };
  }
  const scratch = path.join(options.scratchDir, `merge-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
  await git(repo, ["worktree", "add", "--detach", scratch, targetSha]);
  const id = ["-c", "user.name=Loopy", "-c", "user.email=loopy@localhost", "-c", "commit.gpgsign=false"];
  // The environment wins over the config: the project's author, Loopy as the committer either way.
  const env: Record<string, string> = options.author
    ? { GIT_AUTHOR_NAME: options.author.name, GIT_AUTHOR_EMAIL: options.author.email }
    : {};
  let sha: string;
  try {
    try {
      if (options.strategy === "squash") {
        await git(scratch, [...id, "merge", "--squash", options.branch]);
        await git(scratch, [...id, "commit", "--quiet", "--no-verify", "--cleanup=verbatim", "-m", options.message], {
          env,
        });
      } else {
        await git(
          scratch,
          [...id, "merge", "--no-ff", "--no-edit", "--cleanup=verbatim", "-m", options.message, options.branch],
          { env },
        );
      }
    } catch (error) {
      const conflicts = await conflictedFiles(scratch);
      if (conflicts.length) return { ok: false, conflicts };
      throw error;
    }
    sha = await git(scratch, ["rev-parse", "HEAD"]);
  } finally {
    await removeWorktree(repo, scratch);
  }
  if (checkedOutAt) await git(checkedOutAt, ["merge", "--ff-only", "--quiet", sha]);
  else await git(repo, ["update-ref", `refs/heads/${options.target}`, sha, targetSha]);
  return { ok: true, sha };
}

/** The number of lines of `file` at `commit`, or null when the file is not there. */
export async function lineCount(repo: string, commit: string, file: string): Promise<number | null> {
  const text = await git(repo, ["show", `${commit}:${file}`], { trim: false }).catch(() => null);
  if (text === null) return null;
  return text.length === 0 ? 0 : text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
}

import { existsSync, lstatSync, readFileSync } from "node:fs";
import { copyFile, lstat, mkdir, rm, writeFile } from "node:fs/promises";
import { readRegularFile, writeRegularFile } from "@loopy/agents/safe-files";
import path from "node:path";
import { git, type GitError, removeWorktree } from "../shared/git.ts";

/**
 * Where an agent works: a plain folder of files, never a git worktree of the
 * project. The agent's process may be hostile (a prompt injection), so
 * nothing in the folder is trusted by Loopy's own git:
 *
 * - Loopy reads and writes the folder's files through the project's git
 *   folder (`--git-dir`, which the sandbox keeps read-only) with an index of
 *   its own kept outside the folder (`<worktrees>/.index/<name>`). No HEAD,
 *   config, hooks, fsmonitor or `commondir` that the agent can write is ever
 *   read by a git that Loopy runs.
 * - The run's branch (`loopy/run-<id>`) is Loopy's: moved only by
 *   `update-ref` with the value Loopy expects, to a commit built with
 *   `commit-tree` from the files. The agent cannot reach it, nor any other
 *   ref (the sandbox mounts the project read-only).
 * - The agent gets a `.git` of its own inside the folder, made afresh before
 *   every turn: a small repository that borrows the project's objects
 *   (`objects/info/alternates`, read-only) with its branch at Loopy's commit,
 *   so `git status`, `git diff` and `git commit` work as the agent expects.
 *   What it does there (commits, branches, config) stays there: Loopy takes
 *   the files, not the agent's history.
 */
export interface Workspace {
  /** The project's repository (its top-level folder). */
  repo: string;
  /** The folder the agent works in. */
  dir: string;
  /** Loopy's branch for the work, e.g. `loopy/run-<id>`. */
  branch: string;
}

const commonDirs = new Map<string, Promise<string>>();

/** The project's git folder (absolute), read from the project's own checkout, which the agent never writes. */
export function projectGitDir(repo: string): Promise<string> {
  let found = commonDirs.get(repo);
  if (!found) {
    found = git(repo, ["rev-parse", "--path-format=absolute", "--git-common-dir"]);
    found.catch(() => commonDirs.delete(repo));
    commonDirs.set(repo, found);
  }
  return found;
}

/** Loopy's own index for a workspace: beside the workspaces, never inside one (the sandbox binds only the folder). */
export function workspaceIndex(dir: string): string {
  return path.join(path.dirname(dir), ".index", path.basename(dir));
}

/**
 * Git on the project's git folder with the workspace's files as the work tree
 * and Loopy's private index. fsmonitor and the untracked cache are off (they
 * would run or trust programs and state that a work tree can influence).
 */
async function wsGit(
  ws: Workspace,
  args: string[],
  options: { input?: string | Buffer; trim?: boolean } = {},
): Promise<string> {
  const gitDir = await projectGitDir(ws.repo);
  await mkdir(path.dirname(workspaceIndex(ws.dir)), { recursive: true, mode: 0o700 });
  return git(
    ws.repo,
    [
      "-c",
      "core.fsmonitor=false",
      "-c",
      "core.untrackedCache=false",
      "-c",
      "core.splitIndex=false",
      `--git-dir=${gitDir}`,
      `--work-tree=${ws.dir}`,
      ...args,
    ],
    { env: { GIT_INDEX_FILE: workspaceIndex(ws.dir) }, input: options.input, trim: options.trim },
  );
}

/** Makes the workspace at `baseSha` with the branch there (created, or reset if it exists): a fresh folder. */
export async function createWorkspace(ws: Workspace, baseSha: string): Promise<void> {
  await removeWorkspace(ws.repo, ws.dir);
  await git(ws.repo, ["update-ref", `refs/heads/${ws.branch}`, baseSha]);
  await checkOut(ws, baseSha);
}

/** Brings back a workspace whose folder went away (a reboot, a clean-up) from the branch. */
export async function restoreWorkspace(ws: Workspace, fallbackSha: string): Promise<void> {
  const head = await branchHead(ws);
  await removeWorkspace(ws.repo, ws.dir);
  if (!head) await git(ws.repo, ["update-ref", `refs/heads/${ws.branch}`, fallbackSha]);
  await checkOut(ws, head ?? fallbackSha);
}

async function checkOut(ws: Workspace, sha: string): Promise<void> {
  await mkdir(ws.dir, { recursive: true, mode: 0o700 });
  await rm(workspaceIndex(ws.dir), { force: true });
  await wsGit(ws, ["read-tree", "-u", "--reset", sha]);
  await prepareAgentGit(ws, sha);
}

/** The branch's commit, or null when it does not exist. */
async function branchHead(ws: Pick<Workspace, "repo" | "branch">): Promise<string | null> {
  return git(ws.repo, ["rev-parse", "--verify", "--quiet", `refs/heads/${ws.branch}^{commit}`]).catch(() => null);
}

/**
 * Puts the workspace's files at `sha` and drops what is not in it (ignored
 * files, such as caches and installed dependencies, stay, as in a person's
 * checkout), moves the branch there, and gives the agent a fresh `.git`.
 * Symlinks the agent left are replaced or removed, never followed (git
 * refuses to write through a symlinked folder).
 */
export async function resetWorkspace(ws: Workspace, sha: string): Promise<void> {
  if (!existsSync(ws.dir)) {
    await mkdir(ws.dir, { recursive: true, mode: 0o700 });
  }
  await wsGit(ws, ["read-tree", "-u", "--reset", sha]);
  await wsGit(ws, ["clean", "-fdq"]);
  await git(ws.repo, ["update-ref", `refs/heads/${ws.branch}`, sha]);
  await prepareAgentGit(ws, sha);
}

export interface Snapshot {
  /** The branch's commit after the snapshot (the parent itself when nothing changed). */
  sha: string;
  changed: boolean;
  /** Files whose content `rewrite` changed before they were committed. */
  rewritten: string[];
}

/** Files larger than this are committed as they are, without passing through `rewrite`. */
const REWRITE_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Commits the workspace's files on the branch: a tree from the files (every
 * change, new files included; what .gitignore ignores stays out), a commit
 * with `parent` as its only parent, and the branch moved from `parent` to it
 * only if it is still there (compare-and-swap). Commits the agent made in
 * its own `.git` are not taken (their content is, through the files).
 *
 * `rewrite` sees the content of each added or modified file (on disk, before
 * git stores anything) and may return other content to commit instead (secret
 * values replaced); the file is rewritten in the workspace too, so a value
 * never reaches the repository's objects, the diff, the file views or a merge.
 */
export async function snapshotWorkspace(
  ws: Workspace,
  options: {
    parent: string;
    message: string;
    allowEmpty?: boolean;
    author?: { name: string; email: string };
    rewrite?: (file: string, content: Buffer) => Buffer | null;
  },
): Promise<Snapshot> {
  const rewritten: string[] = [];
  if (options.rewrite) {
    // Before git stores anything: the files as they are on disk, so a value to redact never
    // reaches the project's objects (which later sandboxes can read), and the workspace keeps
    // what was committed. Symlinks, folders and very large files are not read.
    const changed = (
      await wsGit(ws, ["ls-files", "-z", "--modified", "--others", "--exclude-standard", "--", "."], { trim: false })
    )
      .split("\0")
      .filter(Boolean);
    for (const file of new Set(changed)) {
      const full = path.join(ws.dir, file);
      const content = await readRegularFile(ws.dir, full, REWRITE_MAX_BYTES).catch(() => null);
      if (!content) continue;
      const replaced = options.rewrite(file, content);
      if (!replaced || replaced.equals(content)) continue;
      const mode = (await lstat(full)).mode & 0o777;
      await writeRegularFile(ws.dir, full, replaced, mode);
      rewritten.push(file);
    }
  }
  // The project's clean filters (git-lfs, say) off: a .gitattributes the agent wrote must not make
  // Loopy's git run them on its files (and commit something else than what the reviewer sees).
  await wsGit(ws, [...(await cleanFiltersOff(ws.repo)), "add", "--all", "--", "."]);
  const tree = await wsGit(ws, ["write-tree"]);
  const parentTree = await git(ws.repo, ["rev-parse", `${options.parent}^{tree}`]);
  if (tree === parentTree && !options.allowEmpty) {
    await prepareAgentGit(ws, options.parent);
    return { sha: options.parent, changed: false, rewritten };
  }
  const author = options.author ?? { name: "Loopy", email: "loopy@localhost" };
  const sha = await git(ws.repo, ["commit-tree", tree, "-p", options.parent, "-F", "-"], {
    input: options.message,
    env: {
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: author.name,
      GIT_COMMITTER_EMAIL: author.email,
    },
  });
  try {
    await git(ws.repo, ["update-ref", `refs/heads/${ws.branch}`, sha, options.parent]);
  } catch (error) {
    const now = await branchHead(ws);
    throw new BranchMovedError(ws.branch, options.parent, now, error as GitError);
  }
  await prepareAgentGit(ws, sha);
  return { sha, changed: true, rewritten };
}

const filterOverrides = new Map<string, Promise<string[]>>();

/** `-c` options that turn off every clean filter the project's (or the user's) git config defines. */
function cleanFiltersOff(repo: string): Promise<string[]> {
  let found = filterOverrides.get(repo);
  if (!found) {
    found = git(repo, ["config", "--name-only", "--get-regexp", "^filter\\..*\\.(clean|process|required)$"])
      .catch(() => "")
      .then((names) => {
        const filters = new Set(
          names
            .split("\n")
            .filter(Boolean)
            .map((n) => n.replace(/^filter\.(.*)\.[^.]+$/, "$1")),
        );
        return [...filters].flatMap((f) => [
          "-c",
          `filter.${f}.clean=`,
          "-c",
          `filter.${f}.process=`,
          "-c",
          `filter.${f}.required=false`,
        ]);
      });
    filterOverrides.set(repo, found);
  }
  return found;
}

/** Loopy's branch was not where Loopy left it: something outside Loopy moved it. */
export class BranchMovedError extends Error {
  constructor(
    readonly branch: string,
    readonly expected: string,
    readonly found: string | null,
    cause?: Error,
  ) {
    super(
      `the branch ${branch} moved outside Loopy (expected ${expected.slice(0, 12)}, found ${found ? found.slice(0, 12) : "none"}); nothing was committed on it`,
      { cause },
    );
    this.name = "BranchMovedError";
  }
}

/**
 * Gives the agent a fresh `.git` in its folder: the branch at `sha`, the
 * project's objects borrowed read-only, an index equal to Loopy's (so `git
 * status` is clean at once), and a name for its own commits. Whatever the
 * previous `.git` held is removed first (`rm` removes a symlink, never what it
 * points at). Written as plain files: no git process reads the old folder.
 */
async function prepareAgentGit(ws: Workspace, sha: string): Promise<void> {
  const dotGit = path.join(ws.dir, ".git");
  await rm(dotGit, { recursive: true, force: true });
  const gitDir = await projectGitDir(ws.repo);
  const ref = `refs/heads/${ws.branch}`;
  for (const dir of ["objects/info", "objects/pack", path.dirname(ref), "refs/tags"])
    await mkdir(path.join(dotGit, dir), { recursive: true });
  await writeFile(path.join(dotGit, "HEAD"), `ref: ${ref}\n`);
  await writeFile(path.join(dotGit, ref), `${sha}\n`);
  await writeFile(path.join(dotGit, "objects/info/alternates"), `${path.join(gitDir, "objects")}\n`);
  await writeFile(
    path.join(dotGit, "config"),
    "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n[user]\n\tname = Loopy agent\n\temail = agent@loopy.invalid\n",
  );
  const index = workspaceIndex(ws.dir);
  if (existsSync(index)) await copyFile(index, path.join(dotGit, "index"));
}

/**
 * Whether the agent moved its HEAD off the branch Loopy gave it (another
 * branch, a detached commit) or replaced its `.git`: harmless to Loopy (which
 * commits the files), but a sign the agent tried to steer where its work
 * lands, so the run stops for a human. Null when HEAD is where Loopy put it.
 */
export function agentGitTampering(ws: Workspace): string | null {
  const dotGit = path.join(ws.dir, ".git");
  try {
    if (!lstatSync(dotGit).isDirectory()) return "the agent replaced the workspace's .git folder";
    const head = path.join(dotGit, "HEAD");
    const stat = lstatSync(head);
    if (!stat.isFile() || stat.size > 4096) return "the agent replaced the workspace's .git/HEAD";
    const text = readFileSync(head, "utf8").trim();
    if (text !== `ref: refs/heads/${ws.branch}`)
      return `the agent moved HEAD off ${ws.branch} (to "${text.slice(0, 120)}")`;
    return null;
  } catch {
    return "the agent removed the workspace's .git folder or its HEAD";
  }
}

/**
 * Removes a workspace folder and Loopy's index for it. A linked git worktree
 * (how runs worked before) is removed through git so the repository forgets it.
 */
export async function removeWorkspace(repo: string | null, dir: string): Promise<void> {
  const dotGit = path.join(dir, ".git");
  let linked = false;
  try {
    linked = lstatSync(dotGit).isFile();
  } catch {
    // no .git: a plain folder, or nothing
  }
  // Through git only so the repository forgets it: the folder goes below either way, and a later `git worktree prune`
  // (the worker's reconcile on start) forgets one git could not remove.
  if (linked && repo) await removeWorktree(repo, dir).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
  await rm(workspaceIndex(dir), { force: true });
}

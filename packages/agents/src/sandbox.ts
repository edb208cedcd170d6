import { execFile } from "node:child_process";
import { existsSync, realpathSync, statSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { childEnv } from "./child-env.ts";
import { findExecutable } from "./executables.ts";

const exec = promisify(execFile);

/**
 * How a child process is confined. With `mode` "auto" it runs inside
 * bubblewrap when `bwrap` is installed and works here, else without (one log
 * line says why); "on" refuses to run it unconfined; "off" never confines.
 */
export interface SandboxPolicy {
  mode: "auto" | "on" | "off";
  /** Folders it may write besides its working folder (the agent's state folder, its HOME). */
  writable?: string[];
  /** Folders replaced by an empty one (LOOPY_HOME: the master key, the CLI token, other runs' worktrees). */
  hide?: string[];
}

export type SandboxStatus = { ok: true; bwrap: string } | { ok: false; reason: string };

/** Every sandbox starts with these; the probe runs them too, so "works here" means exactly this. */
const BASE = ["--die-with-parent", "--unshare-pid", "--cap-drop", "ALL", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"];

let status: Promise<SandboxStatus> | undefined;

/**
 * Whether bubblewrap can run here, probed once per process: it may be missing,
 * or fail in a container without user namespaces.
 */
export function sandboxStatus(): Promise<SandboxStatus> {
  status ??= (async (): Promise<SandboxStatus> => {
    const bwrap = await findExecutable("bwrap");
    if (!bwrap) return { ok: false, reason: "bubblewrap is not installed (apt-get install bubblewrap)" };
    try {
      await exec(bwrap, [...BASE, "--", "true"], { timeout: 10_000, env: childEnv() as NodeJS.ProcessEnv });
      return { ok: true, bwrap };
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? "").trim().split("\n")[0];
      return { ok: false, reason: `bubblewrap does not work here (${stderr || (error as Error).message}); user namespaces may be disabled` };
    }
  })();
  return status;
}

/** One line for the worker's log at start: whether agents run sandboxed, and why not. Throws for "on" without a working bubblewrap. */
export async function describeSandbox(mode: SandboxPolicy["mode"]): Promise<string> {
  if (mode === "off") return "sandbox: off (LOOPY_SANDBOX=off): agents and checkpoints run unconfined";
  const found = await sandboxStatus();
  if (found.ok) return `sandbox: bubblewrap (${found.bwrap}): agents and command checkpoints cannot write outside their worktree`;
  if (mode === "on") throw new Error(`LOOPY_SANDBOX is on, but ${found.reason}`);
  return `sandbox: none: ${found.reason}; agents and checkpoints run unconfined (LOOPY_SANDBOX=off silences this)`;
}

/**
 * `argv` wrapped in bubblewrap according to `policy`, or `argv` itself when
 * the policy is off, or auto and bubblewrap cannot run.
 *
 * Inside: the whole filesystem read-only, a private /tmp, /dev and /proc of
 * its own (its own process namespace: it cannot see, signal or read the
 * environment of the worker), no capabilities, LOOPY_HOME hidden, the network
 * shared (agents call model APIs). Writable: the working folder, the
 * `writable` folders, and of the repository's git folder what a commit needs
 * (objects, refs, logs, the worktree's own admin folder); its config, hooks
 * and the files that say where the git folder is stay read-only, since Loopy
 * itself runs git there after the agent.
 */
export async function sandboxArgv(policy: SandboxPolicy | undefined, cwd: string, argv: [string, ...string[]]): Promise<[string, ...string[]]> {
  if (!policy || policy.mode === "off") return argv;
  const found = await sandboxStatus();
  if (!found.ok) {
    if (policy.mode === "on") throw new Error(`LOOPY_SANDBOX is on, but ${found.reason}`);
    // "auto": the worker said once at start why it runs without (see `describeSandbox`).
    return argv;
  }
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : path.resolve(p));
  const dir = real(cwd);
  const args = [...BASE];
  const covered = ["/tmp"];
  for (const hidden of policy.hide ?? []) {
    if (!existsSync(hidden)) continue;
    args.push("--tmpfs", real(hidden));
    covered.push(real(hidden));
  }
  // The program itself stays reachable when it is installed under the private /tmp or a hidden
  // folder (a checkout of Loopy in /tmp, say): its package tree, read-only.
  const program = programTree(argv[0], covered, real);
  if (program) args.push("--ro-bind", program, program);
  args.push("--bind", dir, dir);
  const git = await gitLayout(dir);
  const readOnly: string[] = [];
  const emptyFiles: string[] = [];
  if (git) {
    // The common git folder readable (it may sit under a hidden or private folder), then what a commit writes:
    // objects, and the refs (and their logs) of the checked-out branch's folder (refs/heads/loopy for a run),
    // so the agent cannot move main or any other branch.
    args.push("--ro-bind", git.common, git.common);
    const writableGit = [path.join(git.common, "objects")];
    if (git.branchDir) writableGit.push(path.join(git.common, git.branchDir), path.join(git.common, "logs", git.branchDir));
    for (const p of writableGit) {
      await mkdir(p, { recursive: true });
      args.push("--bind", p, p);
    }
    if (git.admin !== git.common) args.push("--bind", git.admin, git.admin);
    readOnly.push(path.join(git.common, "config"), path.join(git.common, "hooks"), path.join(git.admin, "commondir"), path.join(git.admin, "gitdir"));
    if (git.dotGitFile) readOnly.push(path.join(dir, ".git"));
    // Read by git (when the repository enables worktree config) with Loopy's own git calls after the turn:
    // never written from inside. A missing one is covered with an empty file.
    const worktreeConfig = path.join(git.admin, "config.worktree");
    if (git.admin !== git.common) {
      if (existsSync(worktreeConfig)) readOnly.push(worktreeConfig);
      else emptyFiles.push(worktreeConfig);
    }
  }
  for (const w of policy.writable ?? []) {
    await mkdir(w, { recursive: true });
    const p = real(w);
    args.push("--bind", p, p);
  }
  for (const p of readOnly) if (existsSync(p)) args.push("--ro-bind", p, p);
  for (const p of emptyFiles) args.push("--ro-bind", "/dev/null", p);
  args.push("--setenv", "TMPDIR", "/tmp", "--chdir", dir, "--");
  return [found.bwrap, ...args, ...argv];
}

/**
 * When `program` (an absolute path) lies in one of the `covered` folders: the
 * folder to make visible for it, its nearest `node_modules` (an npm-installed
 * CLI needs its dependencies next to it) or else its own folder. Null when it
 * is visible anyway.
 */
function programTree(program: string, covered: string[], real: (p: string) => string): string | null {
  if (!path.isAbsolute(program)) return null;
  const resolved = real(program);
  if (!covered.some((c) => resolved === c || resolved.startsWith(`${c}/`))) return null;
  const parts = resolved.split("/");
  const modules = parts.lastIndexOf("node_modules");
  return modules > 0 ? parts.slice(0, modules + 1).join("/") : path.dirname(resolved);
}

/**
 * Where the git folder of `dir` is: its own admin folder (a worktree's `.git/worktrees/<name>`), the
 * common one, and the folder of the checked-out branch's ref (`refs/heads/loopy`), none when detached.
 */
async function gitLayout(dir: string): Promise<{ admin: string; common: string; dotGitFile: boolean; branchDir: string | null } | null> {
  const dotGit = path.join(dir, ".git");
  if (!existsSync(dotGit)) return null;
  const branchDir = async (admin: string) => {
    const ref = /^ref:\s*(refs\/heads\/\S+)\s*$/.exec(await readFile(path.join(admin, "HEAD"), "utf8").catch(() => ""))?.[1];
    return ref && !ref.includes("..") ? path.dirname(ref) : null;
  };
  if (statSync(dotGit).isDirectory()) {
    const admin = realpathSync(dotGit);
    return { admin, common: admin, dotGitFile: false, branchDir: await branchDir(admin) };
  }
  const pointer = /^gitdir:\s*(.+)$/m.exec(await readFile(dotGit, "utf8"))?.[1]?.trim();
  if (!pointer) return null;
  const admin = path.resolve(dir, pointer);
  if (!existsSync(admin)) return null;
  const commonFile = path.join(admin, "commondir");
  const common = existsSync(commonFile) ? path.resolve(admin, (await readFile(commonFile, "utf8")).trim()) : admin;
  return { admin: realpathSync(admin), common: realpathSync(common), dotGitFile: true, branchDir: await branchDir(admin) };
}

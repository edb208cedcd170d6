import { readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import path from "node:path";

/** A process working for a run, found in /proc. */
export interface RunProcess {
  pid: number;
  /** Its process group: agents, commands and checkpoints each run in a group of their own. */
  pgid: number;
  /** The run it works for: LOOPY_RUN_ID in its environment, or the run's worktree as its working directory. */
  runId: string;
}

/**
 * Processes on this machine that work for a run: those whose environment has
 * `LOOPY_RUN_ID` (every agent and command gets it, and their children inherit
 * it) and those working inside a run's worktree under `<loopyHome>/worktrees/`
 * (Loopy's own agent's tool commands, checkpoints). A worker killed with
 * SIGKILL leaves these behind: they are in process groups of their own.
 * Linux only (/proc); elsewhere nothing is found. Research worktrees
 * (`research-*`) and merge scratch folders (`merge-*`) are not runs.
 */
export function findRunProcesses(loopyHome: string): RunProcess[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const worktrees = path.join(realHome(loopyHome), "worktrees") + path.sep;
  const ownGroup = groupOf(process.pid);
  const found: RunProcess[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid || pid <= 1) continue;
    const pgid = groupOf(pid);
    // Zombies and processes gone meanwhile have no group to read; our own group is never a run's.
    if (pgid === null || pgid <= 1 || pgid === ownGroup) continue;
    const runId = runOfEnvironment(pid) ?? runOfWorkingDirectory(pid, worktrees);
    if (runId) found.push({ pid, pgid, runId });
  }
  return found;
}

/**
 * Kills (SIGKILL) the process groups of what works for `runIds` on this
 * machine and waits, up to `waitMs`, until they are gone. Returns the pids
 * that were found.
 */
export async function killRunProcesses(loopyHome: string, runIds: Iterable<string>, waitMs = 3_000): Promise<number[]> {
  const wanted = new Set(runIds);
  if (wanted.size === 0) return [];
  const victims = findRunProcesses(loopyHome).filter((p) => wanted.has(p.runId));
  for (const { pid, pgid } of victims) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone already.
      }
    }
  }
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline && victims.some((v) => isRunning(v.pid))) await new Promise((r) => setTimeout(r, 25));
  return victims.map((v) => v.pid);
}

/** Alive and not a zombie waiting to be reaped. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

/** /proc gives working directories with symlinks resolved. */
function realHome(loopyHome: string): string {
  try {
    return realpathSync(loopyHome);
  } catch {
    return path.resolve(loopyHome);
  }
}

function groupOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses, so split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z") return null;
    const pgid = Number(fields[2]);
    return Number.isInteger(pgid) ? pgid : null;
  } catch {
    return null;
  }
}

function runOfEnvironment(pid: number): string | null {
  try {
    const environ = readFileSync(`/proc/${pid}/environ`, "utf8");
    for (const entry of environ.split("\0"))
      if (entry.startsWith("LOOPY_RUN_ID=")) return entry.slice("LOOPY_RUN_ID=".length) || null;
  } catch {
    // Another user's process, or gone.
  }
  return null;
}

function runOfWorkingDirectory(pid: number, worktrees: string): string | null {
  let cwd: string;
  try {
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return null;
  }
  if (!cwd.startsWith(worktrees)) return null;
  const name = cwd.slice(worktrees.length).split(path.sep)[0] ?? "";
  if (!name || name.startsWith("research-") || name.startsWith("merge-")) return null;
  return name;
}

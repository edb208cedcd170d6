import type { SandboxPolicy } from "@loopy/agents/sandbox";
import type { Db } from "@loopy/db/client";
import type { EgressSettings } from "../projects/confinement.ts";
import { resetWorkspace, type Workspace } from "../projects/workspace.ts";
import { appendResearchEvents, type ResearchEventData, type StoredResearchEvent } from "./events.ts";
import type { ResearchDeps } from "./ports.ts";
import { loopWorktreePath } from "./worktree.ts";

/**
 * What every step of the research engine shares: its dependencies, the rows it
 * reads (loop and experiments), and the per-loop context (worktree, signal).
 */
export interface ResearchEngineDeps extends ResearchDeps {
  loopyHome: string;
  agentBinDirs?: string[];
  /** Values of the worker's environment variables an agent profile names as secrets (when no stored secret has the name). */
  secrets?: (names: string[]) => Record<string, string>;
  /** LOOPY_MASTER_KEY; else the key file in loopyHome decrypts stored secrets. */
  masterKey?: string;
  /** LOOPY_SANDBOX, for the agent proposer's processes and the experiments (GPU devices stay reachable). Off when not given. */
  sandbox?: SandboxPolicy["mode"];
  /** What sandboxed processes may reach through the egress proxy, and Loopy's own services they never may. */
  egress?: EgressSettings;
  /** This worker's identity in loop and slot leases. */
  holder: string;
  /** How long a loop or slot stays held without a heartbeat. */
  leaseMs: number;
  /** Time limit of one agent proposer turn. */
  agentTimeoutMs?: number;
  log?: (message: string) => void;
}

/** The abort reason a worker gives when it shuts down: the loop is handed over, not ended. */
export const SHUTDOWN = "its worker shut down";
/** An interrupted experiment is re-run this many times in all before it is recorded as crashed. */
export const MAX_ATTEMPTS = 2;

const loopSelect = {
  id: true,
  projectId: true,
  status: true,
  holder: true,
  command: true,
  metric: true,
  direction: true,
  budgetMs: true,
  hardKillMultiple: true,
  maxExperiments: true,
  wallClockMs: true,
  costLimitUsd: true,
  costUsd: true,
  proposer: true,
  space: true,
  paramsFile: true,
  seed: true,
  noiseRepeats: true,
  confirmRuns: true,
  slots: true,
  instructions: true,
  editableGlobs: true,
  protectedFiles: true,
  branch: true,
  baseSha: true,
  bestExperimentId: true,
  bestCommit: true,
  bestMetric: true,
  noiseFloor: true,
  startedAt: true,
  project: { select: { path: true, egressHosts: true } },
  agentProfile: { select: { adapter: true, config: true } },
} as const;

/** The experiment fields the engine works with (also what createExperiment returns). */
export const experimentSelect = {
  id: true,
  index: true,
  kind: true,
  status: true,
  params: true,
  description: true,
  seed: true,
  commitSha: true,
  parentSha: true,
  metricValue: true,
  reason: true,
  attempt: true,
  claimToken: true,
  pid: true,
  host: true,
  confirmsId: true,
} as const;

export type LoopRow = NonNullable<Awaited<ReturnType<typeof loadLoop>>>;
export type ExperimentRow = Awaited<ReturnType<typeof loadExperiments>>[number];

export function loadLoop(db: Db, loopId: string) {
  return db.researchLoop.findUnique({ where: { id: loopId }, select: loopSelect });
}

export function loadExperiments(db: Db, loopId: string) {
  return db.experiment.findMany({ where: { loopId }, orderBy: { index: "asc" }, select: experimentSelect });
}

export interface Ctx {
  deps: ResearchEngineDeps;
  loopId: string;
  repo: string;
  /** Hosts the project lets its sandboxed processes reach. */
  egressHosts: string[];
  /** The loop's branch (`loopy/research-<id>`), Loopy's alone. */
  branch: string;
  worktree: string;
  signal: AbortSignal;
  /** The commit the worktree was last reset to, while nothing has touched it since (saves a reset). */
  cleanAt: string | null;
}

/** A fresh context for a loop: nothing known to be clean yet. */
export function newCtx(
  deps: ResearchEngineDeps,
  loopId: string,
  loop: { repo: string; branch: string; egressHosts: string[] },
  signal: AbortSignal,
): Ctx {
  return {
    deps,
    loopId,
    repo: loop.repo,
    egressHosts: loop.egressHosts,
    branch: loop.branch,
    worktree: loopWorktreePath(deps.loopyHome, loopId),
    signal,
    cleanAt: null,
  };
}

/** The worker's log (a no-op when it gave none). */
export function logOf(deps: ResearchEngineDeps): (message: string) => void {
  return deps.log ?? (() => undefined);
}

/** The loop's workspace: its folder, read through the project's git folder, on `loopy/research-<id>`. */
export function workspaceOf(ctx: Ctx): Workspace {
  return { repo: ctx.repo, dir: ctx.worktree, branch: ctx.branch };
}

/** Resets the worktree to `sha` and remembers it is clean there. */
export async function resetTo(ctx: Ctx, sha: string): Promise<void> {
  ctx.cleanAt = null;
  await resetWorkspace(workspaceOf(ctx), sha);
  ctx.cleanAt = sha;
}

/** Stores events and pushes them; pushing is best effort (the notifier logs its own failures). */
export async function record(ctx: Ctx, events: ResearchEventData[]): Promise<void> {
  await appendResearchEvents(ctx.deps.db, ctx.deps.researchNotifier, ctx.loopId, events);
}

/** Pushes events a transaction already stored (null: the transaction wrote nothing). */
export async function push(ctx: Ctx, stored: StoredResearchEvent[] | null): Promise<void> {
  if (stored?.length) await ctx.deps.researchNotifier.loopEvents(ctx.loopId, stored);
}

/** Waits `ms`, or less when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

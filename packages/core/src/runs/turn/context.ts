import { rm } from "node:fs/promises";
import path from "node:path";
import type { AgentAdapter, AgentProfileConfig } from "@loopy/agents/adapter";
import type { SandboxPolicy } from "@loopy/agents/sandbox";
import type { RunStatus } from "@loopy/db/client";
import type { resolveCheckpoints } from "./checkpoints.ts";
import { type EgressSettings, workspaceSandbox } from "../../projects/confinement.ts";
import type { RunDiff } from "../../shared/diff.ts";
import type { CoreDeps, RunScheduler } from "../../shared/ports.ts";
import type { RunLease } from "../run-recovery.ts";
import { appendRunEvents, type RunEventWriter } from "../../live/run-events.ts";
import type { Redactor } from "../../secrets/redact.ts";
import { removeWorkspace } from "../../projects/workspace.ts";
import type { TurnEnd } from "./decide-turn.ts";

/** What the turn loop's steps share: the worker's dependencies, the run's context, and a few small helpers. */

export interface ExecuteRunDeps extends CoreDeps {
  loopyHome: string;
  agentBinDirs?: string[];
  /** Values of the worker's environment variables a profile names as secrets (when no stored secret has the name). */
  secrets?: (names: string[]) => Record<string, string>;
  /** LOOPY_MASTER_KEY; else the key file in loopyHome decrypts stored secrets. */
  masterKey?: string;
  /** LOOPY_SANDBOX: agents and command checkpoints run inside bubblewrap ("auto": when it works here). Off when not given; apps/worker passes the setting (default auto). */
  sandbox?: SandboxPolicy["mode"];
  /** What sandboxed processes may reach through the egress proxy, and Loopy's own services they never may. */
  egress?: EgressSettings;
  /** For fleet members: lets a member's turn update its fleet (budgets stop the others). */
  scheduler?: RunScheduler;
  /** LOOPY_MAX_RUNNING, for the fleet dispatcher. */
  maxRunning?: number;
  /** This worker's identity and LOOPY_RUN_LEASE; the worker renews the heartbeat of the runs it holds. */
  lease?: RunLease;
  /** Where the worker says what went wrong on the side (a clean-up that failed); console.error when not given. */
  log?: (message: string) => void;
}

/** How the loop ends a run: the status, why, and whether the worktree stays (for a human, or the next holder). */
export type Ending = { to: RunStatus; reason?: string; keepWorktree: boolean; handover?: boolean };

/** A turn as the loop reads it from `run_turns`. */
export type TurnRow = { id: string; index: number; prompt: string; kind: string; headSha?: string | null };

export interface TurnContext {
  runId: string;
  projectId: string;
  adapter: AgentAdapter;
  profile: AgentProfileConfig;
  worktree: string;
  repo: string;
  /** The run's branch, moved only by Loopy. */
  branch: string;
  /** Hosts the project lets its sandboxed processes reach. */
  egressHosts: string[];
  baseSha: string;
  timeoutMs: number;
  sessionId: string | null;
  maxAttempts: number;
  checkpoints: Awaited<ReturnType<typeof resolveCheckpoints>>;
  events: RunEventWriter;
  tail: string[];
  signal: AbortSignal;
  turn: TurnRow;
  /** A take-over after the turn finished: run its checkpoints and decide, without the agent. */
  checksOnly: boolean;
  fleet: { fleetId: string; memberIndex: number } | null;
  /** Stored secrets the task names, besides the profile's. */
  taskSecrets: string[];
  redactor: Redactor;
}

/** Built once per execution, used by every step. */
export interface TurnTools {
  /** Appends (redacted) events at once, in order after the writer's. */
  append: (list: Parameters<typeof appendRunEvents>[3]) => Promise<unknown>;
  /** The sandbox policy for the agent (its state folder writable) or the checkpoints. */
  sandbox: (writable: string[]) => Promise<SandboxPolicy>;
}

/** Private folder for an agent's own state (HOME, sessions), kept across a run's turns. */
export function agentStateDir(loopyHome: string, runId: string): string {
  return path.join(loopyHome, "agent-state", runId);
}

/** What a fleet member's processes (agent and checkpoints) get, so one command can vary per member. */
export function fleetEnv(fleet: { fleetId: string; memberIndex: number } | null): Record<string, string> {
  return fleet ? { LOOPY_FLEET_ID: fleet.fleetId, LOOPY_MEMBER_INDEX: String(fleet.memberIndex) } : {};
}

/** Nothing committed since the base (a turn that changed nothing, a cancel): an empty diff without asking git. */
export const emptyDiff = (): RunDiff => ({ files: [], additions: 0, deletions: 0, patch: "", truncated: false });

/**
 * A `.catch` for work that is best effort: the run's outcome does not depend
 * on it (the caller says why), so its failure is logged and the run goes on.
 */
export function logFailure(deps: Pick<ExecuteRunDeps, "log">, runId: string, what: string) {
  return (error: unknown): undefined => {
    (deps.log ?? console.error)(`[loopy] run ${runId}: ${what} failed: ${(error as Error)?.message ?? error}`);
    return undefined;
  };
}

/**
 * Removes an ended run's worktree and its agent's state folder (the branch
 * keeps the commits). Best effort: a leftover folder costs disk space, never the
 * run's outcome, and the worker's reconcile at start (`run-recovery.ts`) removes
 * worktrees of ended runs.
 */
export async function dropRunFiles(deps: ExecuteRunDeps, runId: string, repo: string, worktree: string): Promise<void> {
  const { db } = deps;
  await removeWorkspace(repo, worktree).catch(logFailure(deps, runId, "removing the worktree"));
  await db.run
    .update({ where: { id: runId }, data: { worktreePath: null } })
    .catch(logFailure(deps, runId, "clearing the worktree path"));
  await rm(agentStateDir(deps.loopyHome, runId), { recursive: true, force: true }).catch(
    logFailure(deps, runId, "removing the agent's state folder"),
  );
}

/** The run's ending for a decision that ends the loop. */
export function endingOf(decision: TurnEnd): Ending {
  switch (decision.kind) {
    case "await_review":
      return { to: "awaiting_review", keepWorktree: true };
    case "succeeded":
      return { to: "succeeded", keepWorktree: false };
    case "needs_attention":
      return { to: "needs_attention", reason: decision.reason, keepWorktree: true };
    case "failed":
      return { to: "failed", reason: decision.reason, keepWorktree: false };
    case "cancelled":
      return { to: "cancelled", reason: decision.reason, keepWorktree: false };
  }
}

/** The run's event appender and sandbox, built once for all its turns. */
export function turnTools(deps: ExecuteRunDeps, ctx: TurnContext): TurnTools {
  const { events, redactor } = ctx;
  // LOOPY_HOME is hidden from the sandbox (master key, CLI token, other runs); the agent's state folder is its HOME.
  // Its own network namespace; what the egress proxy refuses is said in the run's log.
  const onDenied = (target: string, reason: string) =>
    events.push({
      type: "error",
      message: `network: ${reason.startsWith("refused") ? reason : `refused ${target}: ${reason}`}`,
    });
  return {
    append: (list) => appendRunEvents(deps.db, deps.notifier, ctx.runId, redactor.deep(list)),
    sandbox: (writable) => workspaceSandbox(deps, { repo: ctx.repo, writable, onDenied, allowHosts: ctx.egressHosts }),
  };
}

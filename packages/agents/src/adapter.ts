import type { AgentEvent } from "./events.ts";

/** What an adapter needs to run one turn of an agent in a worktree. */
export interface AgentRunInput {
  /** The worktree the agent works in; it must not touch anything outside. */
  cwd: string;
  /** The prompt for an LLM agent; the shell command for the command agent. */
  instruction: string;
  /** Extra environment for the agent's processes (merged over a minimal inherited one). */
  env?: Record<string, string>;
  /** Hard limit for the turn; the whole process group is killed when it passes. */
  timeoutMs: number;
  /** Aborted when a user cancels the run. */
  signal?: AbortSignal;
}

/** How a turn ended. Adapters also emit it as an `outcome` event. */
export interface AgentOutcome {
  ok: boolean;
  exitCode: number | null;
  timedOut: boolean;
  cancelled: boolean;
  /** A short reason a user can act on when `ok` is false. */
  reason?: string;
}

export type EmitAgentEvent = (event: AgentEvent) => void;

/** One adapter per kind of agent. Adapters translate their agent's output into AgentEvents. */
export interface AgentAdapter {
  /** Stable name used in the database, API and CLI (`command`, `claude-code`, ...). */
  readonly name: string;
  readonly label: string;
  run(input: AgentRunInput, emit: EmitAgentEvent): Promise<AgentOutcome>;
}

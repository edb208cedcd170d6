import type { AgentEvent } from "./events.ts";
import type { SandboxPolicy } from "./sandbox.ts";

/** A saved agent configuration, as the adapters read it. Secrets are never stored here, only their names. */
export interface AgentProfileConfig {
  model?: string;
  /** API base URL, for agents that talk to a configurable endpoint. */
  baseUrl?: string;
  /** Names of stored secrets (API keys) injected into the agent's environment under their names. */
  secrets?: string[];
  /** The same, each a stored secret or else an environment variable of the worker. */
  secretNames?: string[];
  maxTurns?: number;
  /** Budget per run; exceeding it sends the run to needs_attention. */
  budgetUsd?: number;
  budgetTokens?: number;
}

/** Every secret a profile names, in order (stored secrets first): the adapters pick their API key among them. */
export function profileSecretNames(profile: AgentProfileConfig | undefined): string[] {
  return [...new Set([...(profile?.secrets ?? []), ...(profile?.secretNames ?? [])])];
}

/** What an adapter needs to run one turn of an agent in a worktree. */
export interface AgentRunInput {
  /** The worktree the agent works in; it must not touch anything outside. */
  cwd: string;
  /** The prompt for an LLM agent; the shell command for the command agent. */
  instruction: string;
  /** Extra environment for the agent's processes (secrets, LOOPY_* variables). */
  env?: Record<string, string>;
  /** Hard limit for the turn; the whole process group is killed when it passes. */
  timeoutMs: number;
  /** Aborted when a user cancels the run; a string reason says who stopped it. */
  signal?: AbortSignal;
  /** The session to continue (from an earlier turn's outcome); a new one when absent. */
  sessionId?: string | null;
  profile?: AgentProfileConfig;
  /** A private folder for the agent's own state (HOME, config, sessions), kept across turns of a run. */
  stateDir?: string;
  /** Extra folders to look for agent executables in, before PATH. */
  binDirs?: string[];
  /** How the agent's processes are confined (bubblewrap); none when absent. */
  sandbox?: SandboxPolicy;
}

export interface AgentUsage {
  inputTokens: number;
  outputTokens: number;
  costUsd?: number;
}

/** How a turn ended. Adapters also emit it as an `outcome` event. */
export interface AgentOutcome {
  ok: boolean;
  exitCode: number | null;
  timedOut: boolean;
  cancelled: boolean;
  /** A short reason a user can act on when `ok` is false. */
  reason?: string;
  /** The session a follow-up continues. */
  sessionId?: string;
  /** Usage of this turn. */
  usage?: AgentUsage;
  /** Set when the agent stopped for a human: it asked a question or was denied a permission. */
  needsAttention?: string;
}

export type EmitAgentEvent = (event: AgentEvent) => void;

/** One adapter per kind of agent. Adapters translate their agent's output into AgentEvents. */
export interface AgentAdapter {
  /** Stable name used in the database, API and CLI (`command`, `claude-code`, ...). */
  readonly name: string;
  readonly label: string;
  /** Whether the adapter takes a prompt (LLM agents) or a shell command. */
  readonly takes: "prompt" | "command";
  /** Whether a follow-up can continue the same session. */
  readonly resumable: boolean;
  /**
   * Present for agents whose own process calls the model (the CLIs): the
   * endpoint it calls when the profile sets no base URL. A sandboxed turn
   * routes it through the egress gateway, which holds the API key. Absent for
   * agents that call no model from a child process (a command, Loopy's own
   * agent, which calls the model from the worker).
   */
  readonly modelEndpoint?: {
    defaultUrl?: string;
    /** Which of the profile's secrets the CLI sends as its API key (the gateway holds that one); the first by default. */
    keyName?: (secretNames: string[]) => string | undefined;
  };
  /** Null when the agent can run here; otherwise what is missing, in words a user can act on. */
  unavailable(input: Pick<AgentRunInput, "binDirs" | "profile" | "env">): Promise<string | null>;
  run(input: AgentRunInput, emit: EmitAgentEvent): Promise<AgentOutcome>;
}

import type { Db } from "@loopy/db/client";
import type { StoredRunEvent } from "../live/run-events.ts";

/**
 * What the domain needs from the transport layer (Redis/BullMQ in Loopy,
 * in-memory fakes are never used: tests wire the real ones). Core code calls
 * these; @loopy/queue implements them.
 */
export interface RunScheduler {
  /** Queues the run for a worker; the job id is the run id (plus the turn for follow-ups). */
  enqueue(runId: string, turn?: number): Promise<void>;
  /** Removes a queued run's job; true when it was still waiting. */
  remove(runId: string): Promise<boolean>;
  /** Asks whichever worker runs it to stop it. */
  requestCancel(runId: string): Promise<void>;
}

export interface RunNotifier {
  /** Pushes events that are already stored. */
  runEvents(runId: string, events: StoredRunEvent[]): Promise<void>;
  /** Tells listeners (the runs list) that a run's row changed. */
  runChanged(runId: string, status: string): Promise<void>;
  /** Tells listeners (the fleet view) that a fleet's row changed (status, budget stop). */
  fleetChanged?(fleetId: string, status: string): Promise<void>;
}

export interface CoreDeps {
  db: Db;
  notifier: RunNotifier;
}

export interface LaunchDeps extends CoreDeps {
  scheduler: RunScheduler;
  /** Default timeout for runs that name none. */
  defaultTimeoutMs: number;
  /** Extra folders with agent executables (LOOPY_AGENT_BIN_DIRS). */
  agentBinDirs: string[];
  /** LOOPY_HOME: worktrees and agent state live under it. */
  loopyHome: string;
  /** LOOPY_URL, where people open Loopy: links to runs (a merge commit's Loopy-Run trailer). */
  publicUrl?: string;
}

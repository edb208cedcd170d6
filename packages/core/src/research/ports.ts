import type { Db } from "@loopy/db/client";
import type { StoredPoint, StoredResearchEvent } from "./events.ts";

/** What research loops need from the transport (BullMQ and Redis pub/sub in Loopy; @loopy/queue implements it). */
export interface ResearchScheduler {
  /** Queues the loop for a worker; the job id is the loop id. */
  enqueue(loopId: string): Promise<void>;
  /** Removes a waiting loop's job; true when it was still waiting. */
  remove(loopId: string): Promise<boolean>;
  /** Asks whichever worker holds the loop to stop its experiment now. */
  requestCancel(loopId: string): Promise<void>;
}

export interface ResearchNotifier {
  /** Pushes loop events that are already stored. */
  loopEvents(loopId: string, events: StoredResearchEvent[]): Promise<void>;
  /** Pushes step points that are already stored. */
  points(loopId: string, experimentId: string, points: StoredPoint[]): Promise<void>;
  /** Tells listeners (the loops list) that a loop's row changed. */
  loopChanged(loopId: string, status: string): Promise<void>;
}

export interface ResearchDeps {
  db: Db;
  researchNotifier: ResearchNotifier;
}

export interface ResearchLaunchDeps extends ResearchDeps {
  researchScheduler: ResearchScheduler;
  /** Extra folders with agent executables (LOOPY_AGENT_BIN_DIRS), to check an agent proposer can run. */
  agentBinDirs: string[];
}

import type { RunStatus } from "@loopy/db/client";

export type { RunStatus };

/** Every run status, in the order a run usually moves through them. */
export const RUN_STATUSES = [
  "queued",
  "running",
  "verifying",
  "awaiting_review",
  "needs_attention",
  "succeeded",
  "failed",
  "cancelled",
  "merged",
  "rejected",
] as const satisfies readonly RunStatus[];

/** States a run never leaves. */
export const TERMINAL_STATUSES: readonly RunStatus[] = ["succeeded", "failed", "cancelled", "merged", "rejected"];

/**
 * The allowed moves. Later features add verifying → awaiting_review/needs_attention
 * and awaiting_review → merged/rejected; the skeleton uses the first rows.
 */
const TRANSITIONS: Record<RunStatus, readonly RunStatus[]> = {
  queued: ["running", "cancelled", "failed"],
  running: ["verifying", "awaiting_review", "succeeded", "failed", "cancelled", "needs_attention"],
  verifying: ["running", "awaiting_review", "needs_attention", "succeeded", "failed", "cancelled"],
  awaiting_review: ["running", "merged", "rejected", "cancelled"],
  needs_attention: ["running", "awaiting_review", "rejected", "cancelled"],
  succeeded: [],
  failed: [],
  cancelled: [],
  merged: [],
  rejected: [],
};

export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The states from which `to` may be reached. */
export function sourcesOf(to: RunStatus): RunStatus[] {
  return (Object.keys(TRANSITIONS) as RunStatus[]).filter((from) => TRANSITIONS[from].includes(to));
}

import type { AgentOutcome, AgentProfileConfig } from "@loopy/agents/adapter";
import { checkpointFeedback, type CheckpointOutcome } from "./checkpoints.ts";

/**
 * What a coding run does after a turn, as a pure function of what the turn
 * left (ARCHITECTURE.md, "The turn loop", step 4). `runTurns` gathers the
 * facts, asks `decideTurn`, and carries the decision out; nothing here reads or
 * writes anything, so every branch is tested without a worker.
 */

/** The same required checkpoint failing this many turns in a row needs a human. */
export const SAME_FAILURE_LIMIT = 3;

/** A decision that ends the loop; `endingOf` (context.ts) turns it into the run's ending. */
export type TurnEnd =
  /** Everything required is green and the turn changed something: a human reviews it. */
  | { kind: "await_review" }
  /** A command that changed nothing and passed its checks: nothing to review. */
  | { kind: "succeeded" }
  | { kind: "needs_attention"; reason: string | undefined }
  | { kind: "failed"; reason: string | undefined }
  | { kind: "cancelled"; reason: string | undefined };

export type TurnDecision =
  | TurnEnd
  /** The agent's part passed: run the checkpoints, then decide again with `checks`. */
  | { kind: "verify" }
  /** Feed the failing checkpoints back to the same session as a new turn. */
  | { kind: "feedback"; prompt: string };

/** Spent so far by the run (this turn included). */
export interface RunSpend {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** What the agent's part of the turn left. */
export interface AgentTurnFacts {
  outcome: Pick<AgentOutcome, "ok" | "cancelled" | "reason" | "needsAttention">;
  /** Why the run's fleet stopped its members (a spent fleet budget), when it did at this turn. */
  fleetStopped: string | null;
  /** Something a human must look at before anything else runs (git tampering, a secret written to a file). */
  securityStop: string | null;
  /** The profile's budget and what the run has spent. */
  budget: Pick<AgentProfileConfig, "budgetUsd" | "budgetTokens">;
  spent: RunSpend;
}

/** What the checkpoints after the turn left. */
export interface CheckFacts {
  /** Set when the run was cancelled while its checkpoints ran (their results are stored all the same). */
  cancelled: string | null;
  /** Every checkpoint's result (none when the run has no checkpoints). */
  results: CheckpointOutcome[];
  /** Files the run's diff (base → head) touches. */
  diffFiles: number;
  /** Whether this turn moved the head (an agent's turn that changed nothing needs a human). */
  changedThisTurn: boolean;
  /** The agent's last message of the turn: a question in it is passed on. */
  lastMessage: string;
  /** Consecutive turns each required checkpoint has failed, this turn included (`countFailures`). */
  failureStreak: ReadonlyMap<string, number>;
  /** Turns of this cycle (the task or a reviewer's request, and its checkpoint feedback), this one included. */
  attempts: number;
  /** The project's attempts per cycle. */
  maxAttempts: number;
}

export interface TurnFacts {
  /** A command (fails or succeeds on its own) rather than an LLM agent (a human may help it). */
  isCommand: boolean;
  /** Whether the agent can continue its session, so a failure can be fed back. */
  resumable: boolean;
  /** The turn's kind: "initial", "checkpoint_feedback" or "review_feedback". */
  turnKind: string;
  /** Absent when a take-over only re-runs a finished turn's checks. */
  agent?: AgentTurnFacts;
  /** Absent right after the agent's part: then the answer is `verify` unless the turn already ends the run. */
  checks?: CheckFacts;
}

/**
 * The decision after a turn: first on the agent's part (without `checks`: an
 * end, or `verify`), then with `checks` on its checkpoints (an end, or
 * `feedback`).
 */
export function decideTurn(facts: TurnFacts & { checks: CheckFacts }): TurnEnd | { kind: "feedback"; prompt: string };
export function decideTurn(facts: TurnFacts & { checks?: undefined }): TurnEnd | { kind: "verify" };
export function decideTurn(facts: TurnFacts): TurnDecision;
export function decideTurn(facts: TurnFacts): TurnDecision {
  if (facts.agent) {
    const ended = decideAgentPart(facts, facts.agent);
    if (ended) return ended;
  }
  if (!facts.checks) return { kind: "verify" };
  return decideChecks(facts, facts.checks);
}

function decideAgentPart(facts: TurnFacts, agent: AgentTurnFacts): TurnEnd | null {
  const { outcome } = agent;
  // The fleet's spent totals include this turn: a spent budget stops every member, this one too.
  if (agent.fleetStopped) return { kind: "cancelled", reason: agent.fleetStopped };
  if (outcome.cancelled) return { kind: "cancelled", reason: outcome.reason };
  if (!outcome.ok) {
    // A command that fails is a failed run; an agent that fails may be helped by a human.
    return facts.isCommand
      ? { kind: "failed", reason: outcome.reason }
      : { kind: "needs_attention", reason: outcome.reason };
  }
  // It asked a question or was denied a permission.
  if (outcome.needsAttention) return { kind: "needs_attention", reason: outcome.needsAttention };
  if (agent.securityStop) return { kind: "needs_attention", reason: agent.securityStop };
  const over = overBudget(agent.budget, agent.spent);
  if (over) return { kind: "needs_attention", reason: over };
  return null;
}

function decideChecks(facts: TurnFacts, checks: CheckFacts): TurnEnd | { kind: "feedback"; prompt: string } {
  if (checks.cancelled !== null) return { kind: "cancelled", reason: checks.cancelled };
  const failed = checks.results.filter((r) => r.required && !r.passed);
  if (failed.length === 0) {
    if (facts.isCommand && checks.diffFiles === 0) return { kind: "succeeded" };
    if (!facts.isCommand && !checks.changedThisTurn) {
      // A turn that changed nothing: the agent asks something (request changes answers it), or did nothing.
      const question = checks.lastMessage.trim();
      if (question.endsWith("?")) {
        return {
          kind: "needs_attention",
          reason: `The agent asks: ${question.length > 300 ? `…${question.slice(-300)}` : question}`,
        };
      }
      return {
        kind: "needs_attention",
        reason:
          facts.turnKind === "initial"
            ? "The agent finished without changing anything (empty diff)"
            : "The agent's turn changed nothing",
      };
    }
    return { kind: "await_review" };
  }
  // A forbidden or protected path is not something to retry: a human decides.
  const pathRule = failed.find((r) => r.kind === "forbidden_paths" || r.kind === "protected_paths");
  if (pathRule) return { kind: "needs_attention", reason: pathRule.output.split("\n")[0] };
  const stuck = [...checks.failureStreak.entries()].find(([, n]) => n >= SAME_FAILURE_LIMIT);
  if (stuck) return { kind: "needs_attention", reason: `Checkpoint "${stuck[0]}" failed ${stuck[1]} times in a row` };
  const names = failed.map((r) => r.name).join(", ");
  const plural = failed.length > 1 ? "s" : "";
  if (!facts.resumable) return { kind: "needs_attention", reason: `Checkpoint${plural} ${names} failed` };
  if (checks.attempts >= checks.maxAttempts) {
    return {
      kind: "needs_attention",
      reason: `Checkpoint${plural} ${names} still failing after ${checks.attempts} attempts`,
    };
  }
  return { kind: "feedback", prompt: checkpointFeedback(failed) };
}

/**
 * The failure streaks after a turn: each required checkpoint that failed counts
 * one more turn in a row; one that did not fail (passed, optional, or not run)
 * drops out. Keeps the order in which checkpoints first failed.
 */
export function countFailures(
  previous: ReadonlyMap<string, number>,
  results: readonly CheckpointOutcome[],
): Map<string, number> {
  const failed = results.filter((r) => r.required && !r.passed);
  const streak = new Map(previous);
  for (const r of failed) streak.set(r.name, (streak.get(r.name) ?? 0) + 1);
  for (const key of [...streak.keys()]) if (!failed.some((r) => r.name === key)) streak.delete(key);
  return streak;
}

/** Why the run is over its profile's budget (dollars first, then tokens), or null. */
export function overBudget(
  budget: Pick<AgentProfileConfig, "budgetUsd" | "budgetTokens">,
  spent: RunSpend,
): string | null {
  if (budget.budgetUsd !== undefined && spent.costUsd > budget.budgetUsd) {
    return `Over budget: spent $${spent.costUsd.toFixed(4)} of $${budget.budgetUsd}`;
  }
  const tokens = spent.inputTokens + spent.outputTokens;
  if (budget.budgetTokens !== undefined && tokens > budget.budgetTokens)
    return `Over budget: used ${tokens} of ${budget.budgetTokens} tokens`;
  return null;
}

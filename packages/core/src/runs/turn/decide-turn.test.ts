import { describe, expect, it } from "vitest";
import { checkpointFeedback, type CheckpointOutcome } from "./checkpoints.ts";
import {
  type AgentTurnFacts,
  type CheckFacts,
  countFailures,
  decideTurn,
  overBudget,
  SAME_FAILURE_LIMIT,
  type TurnFacts,
} from "./decide-turn.ts";

const agentRun = (over: Partial<TurnFacts> = {}): TurnFacts => ({
  isCommand: false,
  resumable: true,
  turnKind: "initial",
  ...over,
});
const commandRun = (over: Partial<TurnFacts> = {}): TurnFacts =>
  agentRun({ isCommand: true, resumable: false, ...over });

const agentPart = (over: Partial<AgentTurnFacts> = {}): AgentTurnFacts => ({
  outcome: { ok: true, cancelled: false },
  fleetStopped: null,
  securityStop: null,
  budget: {},
  spent: { inputTokens: 0, outputTokens: 0, costUsd: 0 },
  ...over,
});

const checked = (over: Partial<CheckFacts> = {}): CheckFacts => {
  const results = over.results ?? [];
  return {
    cancelled: null,
    diffFiles: 1,
    changedThisTurn: true,
    lastMessage: "",
    failureStreak: countFailures(new Map(), results),
    attempts: 1,
    maxAttempts: 3,
    ...over,
    results,
  };
};

const check = (name: string, passed: boolean, over: Partial<CheckpointOutcome> = {}): CheckpointOutcome => ({
  name,
  kind: "command",
  required: true,
  passed,
  durationMs: 5,
  output: passed ? "ok" : `${name} broke\nsecond line`,
  ...over,
});

describe("decideTurn: the agent's part", () => {
  it("goes on to the checkpoints when the turn went well", () => {
    expect(decideTurn(agentRun({ agent: agentPart() }))).toEqual({ kind: "verify" });
    expect(decideTurn(commandRun({ agent: agentPart() }))).toEqual({ kind: "verify" });
  });

  it("goes on to the checkpoints without agent facts (a take-over re-running a finished turn's checks)", () => {
    expect(decideTurn(agentRun())).toEqual({ kind: "verify" });
  });

  it("cancels a member whose fleet stopped, before anything else the turn says", () => {
    const agent = agentPart({
      fleetStopped: "fleet budget spent",
      outcome: { ok: false, cancelled: true, reason: "cancelled by a user" },
      securityStop: "tampering",
    });
    expect(decideTurn(agentRun({ agent }))).toEqual({ kind: "cancelled", reason: "fleet budget spent" });
  });

  it("cancels a cancelled turn with the agent's reason", () => {
    const agent = agentPart({ outcome: { ok: false, cancelled: true, reason: "cancelled by a user" } });
    expect(decideTurn(agentRun({ agent }))).toEqual({ kind: "cancelled", reason: "cancelled by a user" });
    expect(decideTurn(commandRun({ agent }))).toEqual({ kind: "cancelled", reason: "cancelled by a user" });
  });

  it("fails a command that failed, and asks a human about an agent that failed", () => {
    const agent = agentPart({ outcome: { ok: false, cancelled: false, reason: "exit code 2" } });
    expect(decideTurn(commandRun({ agent }))).toEqual({ kind: "failed", reason: "exit code 2" });
    expect(decideTurn(agentRun({ agent }))).toEqual({ kind: "needs_attention", reason: "exit code 2" });
  });

  it("keeps an absent failure reason absent", () => {
    const agent = agentPart({ outcome: { ok: false, cancelled: false } });
    expect(decideTurn(commandRun({ agent }))).toEqual({ kind: "failed", reason: undefined });
  });

  it("asks a human when the agent stopped for one (a question, a permission denial)", () => {
    const agent = agentPart({ outcome: { ok: true, cancelled: false, needsAttention: "Permission denied: Bash(rm)" } });
    expect(decideTurn(agentRun({ agent }))).toEqual({
      kind: "needs_attention",
      reason: "Permission denied: Bash(rm)",
    });
  });

  it("the agent's own stop comes before a security stop, which comes before the budget", () => {
    const spent = { inputTokens: 10, outputTokens: 10, costUsd: 5 };
    const both = agentPart({
      outcome: { ok: true, cancelled: false, needsAttention: "asked" },
      securityStop: "git tampering",
      budget: { budgetUsd: 1 },
      spent,
    });
    expect(decideTurn(agentRun({ agent: both }))).toEqual({ kind: "needs_attention", reason: "asked" });
    const security = agentPart({ securityStop: "git tampering", budget: { budgetUsd: 1 }, spent });
    expect(decideTurn(agentRun({ agent: security }))).toEqual({ kind: "needs_attention", reason: "git tampering" });
  });

  it("stops a run over its budget, even a command", () => {
    const agent = agentPart({
      budget: { budgetTokens: 100 },
      spent: { inputTokens: 80, outputTokens: 21, costUsd: 0 },
    });
    expect(decideTurn(commandRun({ agent }))).toEqual({
      kind: "needs_attention",
      reason: "Over budget: used 101 of 100 tokens",
    });
  });

  it("an agent part that ends the run wins over passing checks", () => {
    const agent = agentPart({ securityStop: "a secret in a file" });
    expect(decideTurn(agentRun({ agent, checks: checked() }))).toEqual({
      kind: "needs_attention",
      reason: "a secret in a file",
    });
  });
});

describe("decideTurn: after the checkpoints", () => {
  it("cancels a run cancelled while its checks ran, whatever they said", () => {
    const checks = checked({ cancelled: "cancelled by a user", results: [check("tests", false)] });
    expect(decideTurn(agentRun({ agent: agentPart(), checks }))).toEqual({
      kind: "cancelled",
      reason: "cancelled by a user",
    });
  });

  it("waits for review when everything required passed and the turn changed something", () => {
    const checks = checked({ results: [check("tests", true), check("lint", false, { required: false })] });
    expect(decideTurn(agentRun({ agent: agentPart(), checks }))).toEqual({ kind: "await_review" });
    expect(decideTurn(agentRun({ checks: checked() }))).toEqual({ kind: "await_review" });
  });

  it("a command that changed nothing succeeds; one that changed files waits for review", () => {
    expect(decideTurn(commandRun({ checks: checked({ diffFiles: 0, changedThisTurn: false }) }))).toEqual({
      kind: "succeeded",
    });
    expect(decideTurn(commandRun({ checks: checked({ diffFiles: 2 }) }))).toEqual({ kind: "await_review" });
    // The run's diff counts, not this turn: a follow-up command that changed nothing more is still reviewed.
    expect(decideTurn(commandRun({ checks: checked({ diffFiles: 2, changedThisTurn: false }) }))).toEqual({
      kind: "await_review",
    });
  });

  it("an agent's first turn that changed nothing needs attention (empty diff)", () => {
    const checks = checked({ diffFiles: 0, changedThisTurn: false, lastMessage: "Done." });
    expect(decideTurn(agentRun({ checks }))).toEqual({
      kind: "needs_attention",
      reason: "The agent finished without changing anything (empty diff)",
    });
  });

  it("a follow-up that changed nothing needs attention, even when the run's diff is not empty", () => {
    const checks = checked({ diffFiles: 3, changedThisTurn: false });
    expect(decideTurn(agentRun({ turnKind: "review_feedback", checks }))).toEqual({
      kind: "needs_attention",
      reason: "The agent's turn changed nothing",
    });
  });

  it("passes on a question the agent asked instead of changing anything", () => {
    const checks = checked({ changedThisTurn: false, lastMessage: "  Which file do you mean?\n" });
    expect(decideTurn(agentRun({ checks }))).toEqual({
      kind: "needs_attention",
      reason: "The agent asks: Which file do you mean?",
    });
  });

  it("keeps the end of a long question", () => {
    const question = `${"x".repeat(400)} so, shall I?`;
    const checks = checked({ changedThisTurn: false, lastMessage: question });
    const decision = decideTurn(agentRun({ checks }));
    expect(decision).toEqual({ kind: "needs_attention", reason: `The agent asks: …${question.slice(-300)}` });
  });

  it("a forbidden or protected path needs attention with the rule's first line, before any retry", () => {
    for (const kind of ["forbidden_paths", "protected_paths"] as const) {
      const results = [check("tests", false), check("paths", false, { kind, output: "touched .env\nmore" })];
      expect(decideTurn(agentRun({ checks: checked({ results }) }))).toEqual({
        kind: "needs_attention",
        reason: "touched .env",
      });
    }
  });

  it("an optional path rule that fails does not stop the loop", () => {
    const results = [check("paths", false, { kind: "forbidden_paths", required: false }), check("tests", false)];
    expect(decideTurn(agentRun({ checks: checked({ results }) })).kind).toBe("feedback");
  });

  it("feeds failing checkpoints back to the same session while attempts are left", () => {
    const [tests, lint, types] = [check("tests", false), check("lint", true), check("types", false)];
    const results = [tests, lint, types];
    const decision = decideTurn(agentRun({ checks: checked({ results, attempts: 2, maxAttempts: 3 }) }));
    expect(decision).toEqual({ kind: "feedback", prompt: checkpointFeedback([tests, types]) });
  });

  it(`needs attention when the same checkpoint failed ${SAME_FAILURE_LIMIT} turns running`, () => {
    const results = [check("lint", false), check("tests", false)];
    let streak = new Map<string, number>();
    streak = countFailures(streak, [check("tests", false)]);
    streak = countFailures(streak, [check("tests", false)]);
    streak = countFailures(streak, results);
    const checks = checked({ results, failureStreak: streak, attempts: 3, maxAttempts: 10 });
    expect(decideTurn(agentRun({ checks }))).toEqual({
      kind: "needs_attention",
      reason: `Checkpoint "tests" failed ${SAME_FAILURE_LIMIT} times in a row`,
    });
  });

  it("the streak comes before the attempts and a non-resumable agent", () => {
    const results = [check("tests", false)];
    const checks = checked({ results, failureStreak: new Map([["tests", 3]]), attempts: 5, maxAttempts: 5 });
    expect(decideTurn(agentRun({ resumable: false, checks }))).toEqual({
      kind: "needs_attention",
      reason: 'Checkpoint "tests" failed 3 times in a row',
    });
  });

  it("an agent that cannot continue its session (or a command) cannot be fed back", () => {
    const one = checked({ results: [check("tests", false)] });
    expect(decideTurn(commandRun({ checks: one }))).toEqual({
      kind: "needs_attention",
      reason: "Checkpoint tests failed",
    });
    const two = checked({ results: [check("tests", false), check("lint", false)] });
    expect(decideTurn(agentRun({ resumable: false, checks: two }))).toEqual({
      kind: "needs_attention",
      reason: "Checkpoints tests, lint failed",
    });
  });

  it("stops at the project's attempts", () => {
    const one = checked({ results: [check("tests", false)], attempts: 2, maxAttempts: 2 });
    expect(decideTurn(agentRun({ checks: one }))).toEqual({
      kind: "needs_attention",
      reason: "Checkpoint tests still failing after 2 attempts",
    });
    const two = checked({ results: [check("a", false), check("b", false)], attempts: 1, maxAttempts: 1 });
    expect(decideTurn(agentRun({ checks: two }))).toEqual({
      kind: "needs_attention",
      reason: "Checkpoints a, b still failing after 1 attempts",
    });
  });
});

describe("countFailures", () => {
  it("counts required failures turn after turn and drops what stopped failing", () => {
    let streak = countFailures(new Map(), [check("a", false), check("b", false), check("c", true)]);
    expect([...streak]).toEqual([
      ["a", 1],
      ["b", 1],
    ]);
    streak = countFailures(streak, [check("b", false), check("a", true), check("c", false)]);
    expect([...streak]).toEqual([
      ["b", 2],
      ["c", 1],
    ]);
    expect([...countFailures(streak, [check("b", false, { required: false })])]).toEqual([]);
  });

  it("does not change the streak it was given", () => {
    const previous = new Map([["a", 1]]);
    countFailures(previous, [check("a", false)]);
    expect(previous.get("a")).toBe(1);
  });
});

describe("overBudget", () => {
  const spent = (costUsd: number, inputTokens = 0, outputTokens = 0) => ({ costUsd, inputTokens, outputTokens });

  it("says nothing without a budget or within it (reaching it exactly is within)", () => {
    expect(overBudget({}, spent(100, 1e6, 1e6))).toBeNull();
    expect(overBudget({ budgetUsd: 1, budgetTokens: 100 }, spent(1, 50, 50))).toBeNull();
  });

  it("names the dollars first, then the tokens", () => {
    expect(overBudget({ budgetUsd: 0.5, budgetTokens: 10 }, spent(0.51234, 20, 0))).toBe(
      "Over budget: spent $0.5123 of $0.5",
    );
    expect(overBudget({ budgetUsd: 0.5, budgetTokens: 10 }, spent(0.1, 6, 5))).toBe(
      "Over budget: used 11 of 10 tokens",
    );
  });
});

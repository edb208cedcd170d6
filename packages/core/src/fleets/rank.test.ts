import { describe, expect, it } from "vitest";
import { parseMetric, rankMembers, type RankableMember } from "./rank.ts";

const member = (over: Partial<RankableMember> & { id: string; memberIndex: number }): RankableMember => ({
  status: "awaiting_review",
  checksPassed: true,
  additions: 1,
  deletions: 0,
  costUsd: 0,
  metricValue: null,
  ...over,
});

describe("best-of-N ranking", () => {
  it("puts green members first, then the smaller diff, then the lower cost, then the index", () => {
    const ranked = rankMembers(
      [
        member({ id: "red", memberIndex: 0, checksPassed: false, status: "needs_attention", additions: 0 }),
        member({ id: "big", memberIndex: 1, additions: 10, deletions: 5 }),
        member({ id: "small-dear", memberIndex: 2, additions: 2, costUsd: 0.5 }),
        member({ id: "small-cheap", memberIndex: 3, additions: 2, costUsd: 0.1 }),
        member({
          id: "running",
          memberIndex: 4,
          status: "running",
          checksPassed: null,
          additions: null,
          deletions: null,
        }),
        member({ id: "small-cheap-later", memberIndex: 5, additions: 1, deletions: 1, costUsd: 0.1 }),
      ],
      null,
    );
    expect(ranked.map((r) => r.runId)).toEqual([
      "small-cheap",
      "small-cheap-later",
      "small-dear",
      "big",
      "red",
      "running",
    ]);
    expect(ranked.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(ranked[0]).toMatchObject({
      eligible: true,
      reasons: ["all required checkpoints green", "diff 2 lines (+2 −0)", "cost $0.1000"],
    });
    expect(ranked[4]).toMatchObject({
      eligible: false,
      reasons: expect.arrayContaining(["a required checkpoint failed"]),
    });
    expect(ranked[5]?.reasons[0]).toBe("not finished (running)");
  });

  it("ranks by the declared metric before the diff, members without a value after those with one", () => {
    const members = [
      member({ id: "a", memberIndex: 0, additions: 1, metricValue: 0.5 }),
      member({ id: "b", memberIndex: 1, additions: 50, metricValue: 0.9 }),
      member({ id: "c", memberIndex: 2, additions: 0, metricValue: null }),
    ];
    expect(rankMembers(members, { name: "acc", direction: "max" }).map((r) => r.runId)).toEqual(["b", "a", "c"]);
    expect(rankMembers(members, { name: "loss", direction: "min" }).map((r) => r.runId)).toEqual(["a", "b", "c"]);
    expect(rankMembers(members, { name: "acc", direction: "max" })[0]?.reasons[1]).toBe("acc 0.9 (higher is better)");
  });

  it("reads the last NAME: value line, and only that exact name", () => {
    const out = "$ ./eval\nexit code 0\nval_loss: 2.5\nval_loss_ema: 1.0\nnot val_loss: 9\nval_loss: 1.25e-1\n";
    expect(parseMetric(out, "val_loss")).toBe(0.125);
    expect(parseMetric(out, "val_loss_ema")).toBe(1);
    expect(parseMetric(out, "acc")).toBeNull();
    expect(parseMetric("score: high", "score")).toBeNull();
    expect(parseMetric(null, "score")).toBeNull();
  });
});

import { describe, expect, it } from "vitest";
import { agentPrompt, proposeParams, type HistoryRow } from "./proposers.ts";

const loop = {
  instructions: "Lower val_bpb. Keep the model small.",
  metric: "val_bpb",
  direction: "min",
  command: "uv run train.py",
  budgetMs: 300_000,
  editableGlobs: ["train.py"],
  protectedFiles: ["prepare.py"],
  noiseFloor: 0.0021,
  bestMetric: 0.9812,
};
const row = (
  index: number,
  kind: string,
  status: string,
  metricValue: number | null,
  description: string,
  params: unknown = null,
  reason: string | null = null,
): HistoryRow => ({ index, kind, status, metricValue, description, params, reason });

describe("agentPrompt", () => {
  it("gives the instructions, the rules, a compact history without noise runs, and the shared board", () => {
    const prompt = agentPrompt(
      loop,
      [
        row(0, "baseline", "keep", 0.9979, "baseline"),
        row(1, "noise", "keep", 0.998, "baseline again, seed 2 (noise floor)"),
        row(2, "candidate", "keep", 0.9812, "halve the batch"),
        row(
          3,
          "candidate",
          "crash",
          null,
          "double the width",
          null,
          "the experiment exited with code 1: CUDA out of memory",
        ),
      ],
      [{ loopName: "other", metric: "val_bpb", value: 0.975, description: "warmup 200 steps" }],
    );
    expect(prompt.startsWith("Lower val_bpb. Keep the model small.\n")).toBe(true);
    expect(prompt).toContain("Edit only files matching: train.py. Never change: prepare.py.");
    expect(prompt).toContain("(lower is better)");
    expect(prompt).toContain("noise floor (0.002100)");
    expect(prompt).toContain("#0 keep    val_bpb=0.997900  baseline");
    expect(prompt).toContain(
      "#3 crash   val_bpb=-  double the width (the experiment exited with code 1: CUDA out of memory)",
    );
    expect(prompt).not.toContain("seed 2");
    expect(prompt).toContain("Best so far: val_bpb=0.981200");
    expect(prompt).toContain("[other] val_bpb=0.975000  warmup 200 steps");
  });
});

describe("proposeParams", () => {
  const space = { x: { type: "float", low: 0, high: 1 } };
  it("is reproducible, and proposes something new after a crash instead of repeating it", () => {
    const history = [row(0, "baseline", "keep", 0.5, "baseline", { x: 0.5 })];
    const a = proposeParams({ proposer: "tpe", space, seed: 3, direction: "min" }, history);
    expect(proposeParams({ proposer: "tpe", space, seed: 3, direction: "min" }, history)).toEqual(a);
    const afterCrash = proposeParams({ proposer: "tpe", space, seed: 3, direction: "min" }, [
      ...history,
      row(1, "candidate", "crash", null, "", a),
    ]);
    expect(afterCrash).not.toEqual(a);
  });
});

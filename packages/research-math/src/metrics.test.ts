import { describe, expect, it } from "vitest";
import { parseStepLine, parseSummary, readObjective } from "./metrics.ts";

describe("parseSummary", () => {
  it("reads autoresearch's summary after the last --- line", () => {
    const log = [
      "step 10 loss 2.1",
      "val_bpb: 1.5 (not the summary)",
      "---",
      "val_bpb:          0.997900",
      "training_seconds: 300.1",
      "peak_vram_mb:     45060.2",
      "num_steps: 953",
    ].join("\n");
    expect(parseSummary(log)).toEqual({
      val_bpb: 0.9979,
      training_seconds: 300.1,
      peak_vram_mb: 45060.2,
      num_steps: 953,
    });
  });

  it("reads name: value lines anywhere when there is no ---, the last one winning", () => {
    expect(parseSummary("loss: 3\nnoise here\nloss: 2.5e-1\nacc: -inf\nbad: 1.2.3\nx: nan")).toEqual({
      loss: 0.25,
      acc: -Infinity,
      x: Number.NaN,
    });
  });

  it("ignores malformed lines and says what is missing", () => {
    const summary = parseSummary("---\nval_bpb: \nval_bpb = 0.9\nVal bpb: 1\nother: 2");
    expect(summary).toEqual({ other: 2 });
    expect(readObjective(summary, "val_bpb")).toEqual({
      ok: false,
      reason: 'The output has no "val_bpb: <number>" summary line (found: other)',
    });
    expect(readObjective({ val_bpb: Number.NaN }, "val_bpb")).toEqual({ ok: false, reason: "val_bpb is NaN" });
    expect(readObjective({ val_bpb: 0.9 }, "val_bpb")).toEqual({ ok: true, value: 0.9 });
  });
});

describe("parseStepLine", () => {
  it("reads JSON step lines with numeric series", () => {
    expect(parseStepLine('{"step": 10, "loss": 2.31, "lr": 0.001, "note": "x"}')).toEqual({
      step: 10,
      values: { loss: 2.31, lr: 0.001 },
    });
  });

  it.each([
    "step 10 loss 2",
    '{"loss": 2}',
    '{"step": "10", "loss": 2}',
    '{"step": 1}',
    '{"step": 1, "loss": 2',
    "[1,2]",
    '{"step": null, "loss": 1}',
  ])("ignores %s", (line) => {
    expect(parseStepLine(line)).toBeNull();
  });
});

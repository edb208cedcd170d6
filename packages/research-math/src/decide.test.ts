import { describe, expect, it } from "vitest";
import { decideKeepOrDiscard, noiseFloor } from "./decide.ts";

describe("decideKeepOrDiscard", () => {
  const base = { direction: "min" as const, best: 1.0, noiseFloor: 0.01, exit: "ok" as const };

  it("keeps a clear improvement, in either direction", () => {
    expect(decideKeepOrDiscard({ ...base, value: 0.95 })).toMatchObject({
      decision: "keep",
      delta: expect.closeTo(0.05, 10),
    });
    expect(decideKeepOrDiscard({ ...base, direction: "max", value: 1.05 })).toMatchObject({ decision: "keep" });
  });

  it("discards worse and equal results", () => {
    expect(decideKeepOrDiscard({ ...base, value: 1.1 })).toMatchObject({
      decision: "discard",
      withinNoise: false,
      reason: "worse than the best",
    });
    expect(decideKeepOrDiscard({ ...base, value: 1.0 })).toMatchObject({ decision: "discard", reason: "no change" });
  });

  it("flags an improvement within the noise floor instead of keeping it", () => {
    expect(decideKeepOrDiscard({ ...base, value: 0.995 })).toMatchObject({
      decision: "discard",
      withinNoise: true,
      reason: expect.stringMatching(/within the noise floor/),
    });
  });

  it("records crashes and timeouts", () => {
    expect(decideKeepOrDiscard({ ...base, value: null })).toMatchObject({
      decision: "crash",
      reason: "no valid metric in the output",
    });
    expect(decideKeepOrDiscard({ ...base, value: 0.5, exit: "crash" })).toMatchObject({ decision: "crash" });
    expect(decideKeepOrDiscard({ ...base, value: Number.NaN })).toMatchObject({ decision: "crash" });
    expect(decideKeepOrDiscard({ ...base, value: 0.5, exit: "timeout" })).toMatchObject({ decision: "timeout" });
  });

  it("keeps the first result as the baseline", () => {
    expect(decideKeepOrDiscard({ ...base, best: null, value: 3 })).toMatchObject({
      decision: "keep",
      reason: "first result",
    });
  });
});

describe("noiseFloor", () => {
  it("is two standard deviations of the baseline repeats", () => {
    expect(noiseFloor([1, 1, 1])).toBe(0);
    expect(noiseFloor([0.998, 1.0, 1.002])).toBeCloseTo(0.004, 6);
    expect(noiseFloor([1])).toBe(0);
  });
});

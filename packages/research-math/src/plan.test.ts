import { describe, expect, it } from "vitest";
import {
  confirmSeeds,
  cudaDeviceOf,
  describeParams,
  judge,
  memoryGbOf,
  nextStep,
  type PlanExperiment,
} from "./plan.ts";

const loop = { seed: 10, noiseRepeats: 2, maxExperiments: 3 };
const e = (kind: PlanExperiment["kind"], status: PlanExperiment["status"]): PlanExperiment => ({ kind, status });

describe("nextStep", () => {
  it("measures the baseline, then its noise repeats with new seeds, then candidates with the baseline's seed", () => {
    expect(nextStep(loop, [])).toEqual({ kind: "baseline", seed: 10 });
    expect(nextStep(loop, [e("baseline", "keep")])).toEqual({ kind: "noise", seed: 11 });
    expect(nextStep(loop, [e("baseline", "keep"), e("noise", "keep")])).toEqual({ kind: "noise", seed: 12 });
    // A crashed noise repeat still counts as a repeat: the loop goes on without it.
    expect(nextStep(loop, [e("baseline", "keep"), e("noise", "keep"), e("noise", "crash")])).toEqual({
      kind: "candidate",
      seed: 10,
    });
  });

  it("stops after maxExperiments finished candidates, counting every outcome once", () => {
    const done = [
      e("baseline", "keep"),
      e("noise", "keep"),
      e("noise", "keep"),
      e("candidate", "keep"),
      e("candidate", "crash"),
      e("confirm", "keep"),
    ];
    expect(nextStep(loop, done)).toEqual({ kind: "candidate", seed: 10 });
    expect(nextStep(loop, [...done, e("candidate", "timeout")])).toMatchObject({ kind: "done", outcome: "completed" });
    expect(nextStep({ ...loop, maxExperiments: null }, [...done, e("candidate", "timeout")])).toMatchObject({
      kind: "candidate",
    });
  });

  it("fails the loop when the baseline cannot be measured", () => {
    expect(nextStep(loop, [e("baseline", "crash")])).toMatchObject({
      kind: "done",
      outcome: "failed",
      reason: expect.stringMatching(/baseline crashed/),
    });
    expect(nextStep(loop, [e("baseline", "timeout")])).toMatchObject({
      kind: "done",
      outcome: "failed",
      reason: expect.stringMatching(/timed out/),
    });
  });

  it("gives confirm re-runs the noise seeds", () => {
    expect(confirmSeeds(10, 2)).toEqual([11, 12]);
    expect(confirmSeeds(10, 0)).toEqual([]);
  });
});

describe("judge", () => {
  const base = { direction: "min" as const, best: 1, noiseFloor: 0.02 };
  const ok = (value: number) => ({ exit: "ok" as const, value });

  it("keeps, discards, flags, crashes and times out", () => {
    expect(judge({ ...base, first: ok(0.9) })).toMatchObject({ status: "keep", value: 0.9 });
    expect(judge({ ...base, first: ok(1.1) })).toMatchObject({ status: "discard" });
    expect(judge({ ...base, first: ok(0.99) })).toMatchObject({
      status: "flagged",
      reason: expect.stringMatching(/noise floor/),
    });
    expect(judge({ ...base, first: { exit: "crash", value: null, reason: "exit code 1" } })).toEqual({
      status: "crash",
      delta: null,
      reason: "exit code 1",
      value: null,
    });
    expect(judge({ ...base, first: ok(Number.NaN) })).toMatchObject({ status: "crash" });
    expect(judge({ ...base, first: { exit: "timeout", value: null } })).toMatchObject({ status: "timeout" });
    expect(judge({ ...base, direction: "max", first: ok(1.5) })).toMatchObject({ status: "keep" });
  });

  it("keeps a confirmed candidate on the mean of its runs, and not one whose re-runs fall back", () => {
    expect(judge({ ...base, first: ok(0.9), confirms: [ok(0.92), ok(0.91)] })).toMatchObject({
      status: "keep",
      value: expect.closeTo(0.91, 10),
    });
    expect(judge({ ...base, first: ok(0.9), confirms: [ok(1.1), ok(1.05)] })).toMatchObject({
      status: "discard",
      reason: expect.stringMatching(/did not hold up/),
    });
    expect(judge({ ...base, first: ok(0.9), confirms: [ok(1.02), ok(1.03)] })).toMatchObject({ status: "flagged" });
    expect(judge({ ...base, first: ok(0.9), confirms: [ok(0.9), { exit: "crash", value: null }] })).toMatchObject({
      status: "discard",
      reason: expect.stringMatching(/confirm re-run crashed/),
    });
  });
});

describe("helpers", () => {
  it("maps gpuN slots to CUDA devices", () => {
    expect(cudaDeviceOf("gpu3")).toBe("3");
    expect(cudaDeviceOf("cpu-a")).toBeUndefined();
    expect(cudaDeviceOf(null)).toBeUndefined();
  });
  it("describes params compactly", () => {
    expect(describeParams({ learning_rate: 0.0031234567, hidden: 96, act: "gelu", tiny: 0.000123456 })).toBe(
      "learning_rate=0.00312 hidden=96 act=gelu tiny=0.000123",
    );
  });
  it("reads memory in GB from memory_gb or peak_vram_mb", () => {
    expect(memoryGbOf({ memory_gb: 43.9 })).toBe(43.9);
    expect(memoryGbOf({ peak_vram_mb: 45060.2 })).toBe(44);
    expect(memoryGbOf({ val_bpb: 1 })).toBeNull();
  });
});

import { describe, expect, it } from "vitest";
import {
  advancesBest,
  confirmStatus,
  decide,
  editableRefusal,
  limitReached,
  loopGate,
  noiseUpdate,
  pickExperiment,
  protectedRefusal,
  recoveryOf,
  settleAction,
} from "./engine-decisions.ts";

const limits = { wallClockMs: null, startedAt: null, costLimitUsd: null, costUsd: 0 };
const running = { ...limits, status: "running", holder: "w1" };

describe("loopGate", () => {
  it("lets go of a loop paused while this worker holds it, stops when it ended or another worker has it", () => {
    expect(loopGate({ ...running, status: "paused" }, "w1", 0)).toEqual({ kind: "pause" });
    expect(loopGate({ ...running, status: "paused", holder: null }, "w1", 0)).toEqual({ kind: "stop" });
    expect(loopGate(null, "w1", 0)).toEqual({ kind: "stop" });
    expect(loopGate({ ...running, status: "cancelled" }, "w1", 0)).toEqual({ kind: "stop" });
    expect(loopGate({ ...running, holder: "w2" }, "w1", 0)).toEqual({ kind: "stop" });
    expect(loopGate(running, "w1", 0)).toEqual({ kind: "go" });
  });

  it("completes a loop past its wall-clock or cost limit", () => {
    const started = { ...running, wallClockMs: 1000, startedAt: new Date(5000) };
    expect(loopGate(started, "w1", 5999)).toEqual({ kind: "go" });
    expect(loopGate(started, "w1", 6000)).toEqual({
      kind: "end",
      ending: { to: "completed", reason: "Reached the wall-clock limit" },
    });
    expect(limitReached({ ...limits, costLimitUsd: 0.5, costUsd: 0.5 }, 0)).toBe(
      "Reached the cost limit ($0.5000 of $0.5)",
    );
    expect(limitReached({ ...limits, costLimitUsd: 0.5, costUsd: 0.49 }, 0)).toBeNull();
  });
});

describe("pickExperiment", () => {
  const loop = { seed: 7, noiseRepeats: 1, maxExperiments: 2 };
  it("runs a queued experiment first (a re-run), never a queued confirm", () => {
    const queued = { kind: "candidate" as const, status: "queued" as const, id: "c" };
    const confirm = { kind: "confirm" as const, status: "queued" as const, id: "x" };
    const base = { kind: "baseline" as const, status: "keep" as const, id: "b" };
    expect(pickExperiment(loop, [base, confirm, queued])).toEqual({ kind: "run", experiment: queued });
    expect(pickExperiment(loop, [base, confirm])).toEqual({ kind: "create", step: "noise", seed: 8 });
  });

  it("creates what nextStep says and ends when it is done", () => {
    expect(pickExperiment(loop, [])).toEqual({ kind: "create", step: "baseline", seed: 7 });
    expect(pickExperiment(loop, [{ kind: "baseline", status: "crash" }])).toMatchObject({
      kind: "end",
      ending: { to: "failed" },
    });
    const done = [
      { kind: "baseline" as const, status: "keep" as const },
      { kind: "noise" as const, status: "keep" as const },
      { kind: "candidate" as const, status: "discard" as const },
      { kind: "candidate" as const, status: "keep" as const },
    ];
    expect(pickExperiment(loop, done)).toEqual({
      kind: "end",
      ending: { to: "completed", reason: "Ran 2 experiments (the limit)" },
    });
  });
});

describe("decide", () => {
  const loop = { direction: "min", bestMetric: 1, noiseFloor: 0.1 };
  it("keeps a baseline or noise run that measured, whatever the best", () => {
    expect(decide(loop, "baseline", { exit: "ok", value: 5 }, [])).toEqual({
      status: "keep",
      delta: null,
      reason: "baseline",
      value: 5,
    });
    expect(decide(loop, "noise", { exit: "ok", value: 5 }, [])).toMatchObject({ status: "keep", value: 5 });
    expect(decide(loop, "baseline", { exit: "crash", value: null, reason: "boom" }, [])).toMatchObject({
      status: "crash",
      reason: "boom",
    });
    expect(decide(loop, "noise", { exit: "ok", value: Number.NaN }, []).status).not.toBe("keep");
  });

  it("judges a candidate against the best and the noise floor, on the mean with confirm re-runs", () => {
    expect(decide(loop, "candidate", { exit: "ok", value: 0.5 }, [])).toMatchObject({ status: "keep", value: 0.5 });
    expect(decide(loop, "candidate", { exit: "ok", value: 0.95 }, [])).toMatchObject({ status: "flagged" });
    expect(decide(loop, "candidate", { exit: "ok", value: 2 }, [])).toMatchObject({ status: "discard" });
    const confirmed = decide(loop, "candidate", { exit: "ok", value: 0.5 }, [{ exit: "ok", value: 0.7 }]);
    expect(confirmed.status).toBe("keep");
    expect(confirmed.value).toBeCloseTo(0.6);
    expect(decide(loop, "candidate", { exit: "ok", value: 0.5 }, [{ exit: "timeout", value: null }])).toMatchObject({
      status: "discard",
    });
  });

  it("advances the best only for a kept baseline or candidate", () => {
    const keep = { status: "keep" as const, delta: null, reason: "", value: 1 };
    expect(advancesBest("baseline", keep)).toBe(true);
    expect(advancesBest("candidate", keep)).toBe(true);
    expect(advancesBest("noise", keep)).toBe(false);
    expect(advancesBest("candidate", { ...keep, status: "flagged" })).toBe(false);
  });

  it("gives a confirm re-run the verdict when it measured, else how it failed", () => {
    const keep = { status: "keep" as const, delta: null, reason: "", value: 1 };
    expect(confirmStatus({ exit: "ok", value: 1 }, keep)).toBe("keep");
    expect(confirmStatus({ exit: "ok", value: null }, keep)).toBe("crash");
    expect(confirmStatus({ exit: "timeout", value: null }, keep)).toBe("timeout");
    expect(confirmStatus({ exit: "crash", value: null }, keep)).toBe("crash");
  });
});

describe("noiseUpdate", () => {
  const m = (kind: string, status: string, metricValue: number | null) => ({ kind, status, metricValue });
  it("waits for the baseline and every noise repeat to finish", () => {
    const loop = { noiseRepeats: 2, confirmRuns: 0 };
    expect(noiseUpdate([m("baseline", "keep", 1), m("noise", "keep", 1.2)], loop)).toBeNull();
    expect(noiseUpdate([m("baseline", "keep", 1), m("noise", "keep", 1.2), m("noise", "running", null)], loop)).toBe(
      null,
    );
    const update = noiseUpdate([m("baseline", "keep", 1), m("noise", "keep", 1.2), m("noise", "crash", null)], loop);
    expect(update).toMatchObject({ measurements: 2 });
    expect(update?.floor).toBeGreaterThan(0);
    expect(update?.bestMetric).toBeUndefined();
  });

  it("needs a kept baseline, and makes the best the mean when candidates are judged on means", () => {
    expect(noiseUpdate([m("baseline", "crash", null)], { noiseRepeats: 0, confirmRuns: 0 })).toBeNull();
    expect(
      noiseUpdate([m("baseline", "keep", 1), m("noise", "keep", 2)], { noiseRepeats: 1, confirmRuns: 2 }),
    ).toMatchObject({ measurements: 2, bestMetric: 1.5 });
  });
});

describe("recoveryOf", () => {
  const e = { id: "a", kind: "candidate", attempt: 1, confirmsId: null };
  it("re-runs an interrupted experiment until MAX_ATTEMPTS claims, then crashes it", () => {
    expect(recoveryOf(e, [e], 2)).toEqual({ again: true, reason: "re-run: its worker stopped mid-experiment" });
    expect(recoveryOf({ ...e, attempt: 2 }, [e], 2)).toEqual({
      again: false,
      reason: "crashed: its worker stopped mid-experiment 2 times",
    });
  });

  it("leaves a confirm re-run to its running candidate, and crashes an orphaned one", () => {
    const confirm = { id: "c", kind: "confirm", attempt: 1, confirmsId: "a" };
    expect(recoveryOf(confirm, [e, confirm], 2)).toBeNull();
    expect(recoveryOf(confirm, [confirm], 2)).toEqual({
      again: false,
      reason: "crashed: its worker stopped mid-experiment 1 time",
    });
  });
});

describe("settleAction", () => {
  const mine = { status: "running", holder: "w1" };
  const ending = { to: "completed" as const, reason: "done" };
  it("hands a held loop over on shutdown unless it is ending", () => {
    expect(settleAction(mine, "w1", null, true)).toBe("hand-over");
    expect(settleAction(mine, "w1", ending, true)).toBe("tidy-and-end");
    expect(settleAction(mine, "w1", ending, false)).toBe("tidy-and-end");
    expect(settleAction(mine, "w1", null, false)).toBe("tidy");
  });

  it("tidies a loop someone else ended, and leaves one another worker holds or will resume", () => {
    expect(settleAction({ status: "cancelled", holder: null }, "w1", null, false)).toBe("tidy");
    expect(settleAction({ status: "cancelled", holder: null }, "w1", ending, true)).toBe("tidy");
    expect(settleAction({ status: "cancelled", holder: "w2" }, "w1", null, false)).toBe("leave");
    expect(settleAction({ status: "running", holder: "w2" }, "w1", null, false)).toBe("leave");
    expect(settleAction({ status: "paused", holder: null }, "w1", null, false)).toBe("leave");
  });
});

describe("refusals", () => {
  it("refuses changes outside the editable globs, renames counting both paths", () => {
    expect(editableRefusal([{ path: "train.py" }], ["*.py"])).toBeNull();
    expect(editableRefusal([{ path: "train.py", oldPath: "eval.sh" }], ["*.py"])).toBe(
      "refused: changed files outside the editable globs (*.py): eval.sh",
    );
    const many = Array.from({ length: 11 }, (_, i) => ({ path: `f${i}.txt` }));
    expect(editableRefusal(many, ["*.py"])).toMatch(/f9\.txt, …$/);
  });

  it("names the protected files that changed", () => {
    expect(protectedRefusal([])).toBeNull();
    expect(protectedRefusal(["eval.py"])).toBe("refused: protected file changed (sha256 differs): eval.py");
    expect(protectedRefusal(["a", "b"])).toBe("refused: protected files changed (sha256 differs): a, b");
  });
});

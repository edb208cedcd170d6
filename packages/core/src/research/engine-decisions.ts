import { noiseFloor } from "@loopy/research-math/decide";
import {
  judge,
  nextStep,
  type ExperimentStatus,
  type Measurement,
  type PlanExperiment,
  type PlanLoop,
  type Verdict,
} from "@loopy/research-math/plan";
import { matchesAny } from "../shared/glob.ts";

/**
 * The engine's decisions that are not research maths (those are nextStep and
 * judge in @loopy/research-math): pure functions of rows, so each is unit-tested
 * and the engine's steps only read, write and run.
 */

export type Ending = { to: "completed" | "failed"; reason: string };

const TERMINAL = ["completed", "failed", "cancelled"];

/** What the main loop does with the loop's row before the next experiment. */
export type Gate = { kind: "pause" } | { kind: "stop" } | { kind: "end"; ending: Ending } | { kind: "go" };

/**
 * Paused while this worker holds it: let go. Ended, or held by another worker:
 * stop. Past its wall-clock or cost limit: complete. Else go on.
 */
export function loopGate(
  loop: (LimitLoop & { status: string; holder: string | null }) | null,
  holder: string,
  now: number,
): Gate {
  if (loop?.status === "paused" && loop.holder === holder) return { kind: "pause" };
  if (loop?.status !== "running" || loop.holder !== holder) return { kind: "stop" };
  const limit = limitReached(loop, now);
  return limit ? { kind: "end", ending: { to: "completed", reason: limit } } : { kind: "go" };
}

export interface LimitLoop {
  wallClockMs: number | null;
  startedAt: Date | null;
  costLimitUsd: number | null;
  costUsd: number;
}

/** The wall-clock and cost limits (the experiment count is nextStep's). */
export function limitReached(loop: LimitLoop, now: number): string | null {
  if (loop.wallClockMs !== null && loop.startedAt && now - loop.startedAt.getTime() >= loop.wallClockMs)
    return "Reached the wall-clock limit";
  if (loop.costLimitUsd !== null && loop.costUsd >= loop.costLimitUsd)
    return `Reached the cost limit ($${loop.costUsd.toFixed(4)} of $${loop.costLimitUsd})`;
  return null;
}

export type Choice<E> =
  | { kind: "run"; experiment: E }
  | { kind: "create"; step: "baseline" | "noise" | "candidate"; seed: number }
  | { kind: "end"; ending: Ending };

/** A queued experiment (a re-run after a crash or hand-over) goes first; else nextStep says what to create. */
export function pickExperiment<E extends PlanExperiment>(loop: PlanLoop, experiments: E[]): Choice<E> {
  const queued = experiments.find((e) => e.status === "queued" && e.kind !== "confirm");
  if (queued) return { kind: "run", experiment: queued };
  const step = nextStep(
    loop,
    experiments.filter((e) => e.kind !== "confirm"),
  );
  if (step.kind === "done") return { kind: "end", ending: { to: step.outcome, reason: step.reason } };
  return { kind: "create", step: step.kind, seed: step.seed };
}

export interface JudgedLoop {
  direction: string;
  bestMetric: number | null;
  noiseFloor: number | null;
}

/**
 * The verdict on a measurement: a baseline or noise run that produced a finite
 * metric is kept as it is (it defines the best and the noise); everything else
 * is judge's, against the loop's best and noise floor.
 */
export function decide(loop: JudgedLoop, kind: string, first: Measurement, confirms: Measurement[]): Verdict {
  if (kind === "baseline" || kind === "noise") {
    if (first.exit === "ok" && first.value !== null && Number.isFinite(first.value)) {
      return {
        status: "keep",
        delta: null,
        reason: kind === "baseline" ? "baseline" : "noise-floor measurement of the baseline",
        value: first.value,
      };
    }
    return judge({ direction: loop.direction as "min" | "max", best: null, noiseFloor: 0, first });
  }
  return judge({
    direction: loop.direction as "min" | "max",
    best: loop.bestMetric,
    noiseFloor: loop.noiseFloor ?? 0,
    first,
    confirms,
  });
}

/** Whether the verdict makes the experiment's commit the loop's new best (the worktree stays there). */
export function advancesBest(kind: string, verdict: Verdict): boolean {
  return verdict.status === "keep" && (kind === "baseline" || kind === "candidate");
}

/** A confirm re-run's own status: the candidate's verdict when it measured, else how it failed. */
export function confirmStatus(m: Measurement, verdict: Verdict): Exclude<ExperimentStatus, "queued" | "running"> {
  if (m.exit === "ok" && m.value !== null) return verdict.status;
  return m.exit === "timeout" ? "timeout" : "crash";
}

export interface NoiseUpdate {
  floor: number;
  /** How many measurements the floor is made of. */
  measurements: number;
  /** With confirm re-runs candidates are judged on means; so is the baseline (its runs' mean). */
  bestMetric?: number;
}

/**
 * The noise floor, once the baseline and all its noise repeats have finished
 * and the baseline was kept: from the kept measurements. Null before that.
 */
export function noiseUpdate(
  measured: Array<{ kind: string; status: string; metricValue: number | null }>,
  loop: { noiseRepeats: number; confirmRuns: number },
): NoiseUpdate | null {
  const finished = measured.filter((m) => m.status !== "queued" && m.status !== "running");
  if (finished.length !== loop.noiseRepeats + 1 || !finished.some((m) => m.kind === "baseline" && m.status === "keep"))
    return null;
  const values = finished
    .filter((m) => m.status === "keep" && m.metricValue !== null)
    .map((m) => m.metricValue as number);
  const update: NoiseUpdate = { floor: noiseFloor(values), measurements: values.length };
  if (loop.confirmRuns > 0 && values.length > 0) update.bestMetric = values.reduce((a, b) => a + b, 0) / values.length;
  return update;
}

export type Recovery = { again: boolean; reason: string } | null;

/**
 * What becomes of an experiment a dead worker left running: re-run (queued
 * again) until it has been claimed MAX_ATTEMPTS times, then crashed. A confirm
 * re-run whose candidate is also running is dealt with together with it (null).
 */
export function recoveryOf(
  e: { id: string; kind: string; attempt: number; confirmsId: string | null },
  running: Array<{ id: string }>,
  maxAttempts: number,
): Recovery {
  if (e.kind === "confirm" && running.some((r) => r.id === e.confirmsId)) return null;
  const again = e.kind !== "confirm" && e.attempt < maxAttempts;
  const reason = again
    ? "re-run: its worker stopped mid-experiment"
    : `crashed: its worker stopped mid-experiment ${e.attempt} time${e.attempt === 1 ? "" : "s"}`;
  return { again, reason };
}

/**
 * After the main loop ends: hand the loop over (this worker shuts down and
 * still holds it), leave it (another worker has it), or tidy it up, and end it
 * when this worker holds it and decided an ending.
 */
export function settleAction(
  loop: { status: string; holder: string | null },
  holder: string,
  ending: Ending | null,
  shutdown: boolean,
): "hand-over" | "leave" | "tidy" | "tidy-and-end" {
  const mine = loop.status === "running" && loop.holder === holder;
  if (mine && shutdown && !ending) return "hand-over";
  if (!mine && !TERMINAL.includes(loop.status)) return "leave"; // another worker has it now
  if (!mine && loop.holder && loop.holder !== holder) return "leave";
  return mine && ending ? "tidy-and-end" : "tidy";
}

/** The refusal of a change that touches files outside the editable globs (renames count both paths). */
export function editableRefusal(
  files: Array<{ path: string; oldPath?: string | null }>,
  editable: string[],
): string | null {
  const changed = files.flatMap((f) => (f.oldPath ? [f.oldPath, f.path] : [f.path]));
  const outside = changed.filter((f) => !matchesAny(f, editable));
  if (!outside.length) return null;
  return `refused: changed files outside the editable globs (${editable.join(", ")}): ${outside.slice(0, 10).join(", ")}${outside.length > 10 ? ", …" : ""}`;
}

/** The refusal of a change to protected files (their sha256 differs from the one recorded at creation). */
export function protectedRefusal(changed: string[]): string | null {
  if (!changed.length) return null;
  return `refused: protected file${changed.length > 1 ? "s" : ""} changed (sha256 differs): ${changed.join(", ")}`;
}

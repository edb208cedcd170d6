import { decideKeepOrDiscard, type Direction } from "./decide.ts";
import type { Params } from "./space.ts";

/**
 * The research loop's plan, as pure functions of what is already recorded: what
 * to measure next, which seed it gets, and what a finished measurement means.
 * The engine keeps no state of its own between experiments, so a loop resumed
 * by another worker takes the same next step.
 */
export type ExperimentKind = "baseline" | "noise" | "candidate" | "confirm";
export type ExperimentStatus = "queued" | "running" | "keep" | "discard" | "crash" | "timeout" | "flagged";

export interface PlanLoop {
  seed: number;
  noiseRepeats: number;
  maxExperiments: number | null;
}

export interface PlanExperiment {
  kind: ExperimentKind;
  status: ExperimentStatus;
}

export type NextStep =
  | { kind: "baseline"; seed: number }
  | { kind: "noise"; seed: number }
  | { kind: "candidate"; seed: number }
  | { kind: "done"; outcome: "completed" | "failed"; reason: string };

const FINISHED = new Set<ExperimentStatus>(["keep", "discard", "crash", "timeout", "flagged"]);

/**
 * The next experiment to create. Baseline first (the loop's seed); then the
 * baseline again with seeds seed+1..seed+K for the noise floor; then candidates
 * (the loop's seed, like the baseline, so a difference is the change's and not
 * the seed's) until `maxExperiments` candidates have finished.
 */
export function nextStep(loop: PlanLoop, experiments: PlanExperiment[]): NextStep {
  const baseline = experiments.find((e) => e.kind === "baseline");
  if (!baseline) return { kind: "baseline", seed: loop.seed };
  if (baseline.status === "crash" || baseline.status === "timeout") {
    return {
      kind: "done",
      outcome: "failed",
      reason: `The baseline ${baseline.status === "crash" ? "crashed" : "timed out"}; fix the experiment command before starting a loop`,
    };
  }
  const noise = experiments.filter((e) => e.kind === "noise").length;
  if (noise < loop.noiseRepeats) return { kind: "noise", seed: loop.seed + noise + 1 };
  const candidates = experiments.filter((e) => e.kind === "candidate" && FINISHED.has(e.status)).length;
  if (loop.maxExperiments !== null && candidates >= loop.maxExperiments) {
    return {
      kind: "done",
      outcome: "completed",
      reason: `Ran ${candidates} experiment${candidates === 1 ? "" : "s"} (the limit)`,
    };
  }
  return { kind: "candidate", seed: loop.seed };
}

/** Seeds of a candidate's confirm re-runs: the noise seeds, so means compare like with like. */
export function confirmSeeds(seed: number, confirmRuns: number): number[] {
  return Array.from({ length: confirmRuns }, (_, i) => seed + i + 1);
}

export interface Measurement {
  exit: "ok" | "crash" | "timeout";
  /** The metric, null when the output had none. */
  value: number | null;
  /** Why it crashed, when it did. */
  reason?: string;
}

export interface Verdict {
  status: Exclude<ExperimentStatus, "queued" | "running">;
  delta: number | null;
  reason: string;
  /** The value the loop compares with: the measurement, or the mean with its confirm re-runs. */
  value: number | null;
}

/**
 * What a candidate's measurement (and its confirm re-runs, when the loop asks
 * for them) means: keep, discard, crash, timeout, or flagged (better, but by
 * less than the noise floor: recorded, never kept silently). With confirm
 * re-runs the mean of every run is compared, and any crashed re-run discards.
 */
export function judge(input: {
  direction: Direction;
  best: number | null;
  noiseFloor: number;
  first: Measurement;
  confirms?: Measurement[];
}): Verdict {
  const first = decideKeepOrDiscard({
    direction: input.direction,
    best: input.best,
    noiseFloor: input.noiseFloor,
    exit: input.first.exit,
    value: input.first.value,
  });
  if (first.decision === "crash")
    return { status: "crash", delta: null, reason: input.first.reason ?? first.reason, value: null };
  if (first.decision === "timeout") return { status: "timeout", delta: null, reason: first.reason, value: null };
  const confirms = input.confirms ?? [];
  if (confirms.length === 0 || first.decision !== "keep") {
    return {
      status: first.withinNoise ? "flagged" : first.decision,
      delta: first.delta,
      reason: first.reason,
      value: input.first.value,
    };
  }
  const broken = confirms.find((c) => c.exit !== "ok" || c.value === null || !Number.isFinite(c.value));
  if (broken) {
    return {
      status: "discard",
      delta: first.delta,
      reason: `a confirm re-run ${broken.exit === "timeout" ? "timed out" : "crashed"}; not kept`,
      value: input.first.value,
    };
  }
  const values = [input.first.value as number, ...confirms.map((c) => c.value as number)];
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const again = decideKeepOrDiscard({
    direction: input.direction,
    best: input.best,
    noiseFloor: input.noiseFloor,
    exit: "ok",
    value: mean,
  });
  const prefix = `mean of ${values.length} runs ${fmt(mean)}: `;
  if (again.decision === "keep")
    return { status: "keep", delta: again.delta, reason: `${prefix}${again.reason}`, value: mean };
  return {
    status: again.withinNoise ? "flagged" : "discard",
    delta: again.delta,
    reason: `${prefix}${again.reason}; the first run did not hold up`,
    value: mean,
  };
}

/** CUDA_VISIBLE_DEVICES for a slot named gpuN (N itself), or undefined for other slot names. */
export function cudaDeviceOf(slot: string | null | undefined): string | undefined {
  const m = slot ? /^gpu(\d+)$/i.exec(slot) : null;
  return m ? (m[1] as string) : undefined;
}

/** A short description of proposed parameters, for tables and the progression chart. */
export function describeParams(params: Params): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === "number" ? fmt(v) : String(v)}`)
    .join(" ");
}

/** memory_gb from an experiment's summary: `memory_gb`, or autoresearch's `peak_vram_mb`. */
export function memoryGbOf(summary: Record<string, number>): number | null {
  const gb = summary.memory_gb;
  if (gb !== undefined && Number.isFinite(gb)) return gb;
  const mb = summary.peak_vram_mb;
  if (mb !== undefined && Number.isFinite(mb)) return Math.round((mb / 1024) * 10) / 10;
  return null;
}

function fmt(x: number): string {
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 0.01 ? String(Number(x.toFixed(4))) : x.toPrecision(3);
}

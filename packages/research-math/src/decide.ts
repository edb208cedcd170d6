/**
 * Keep, discard, crash or timeout: the decision after each experiment, with a
 * noise guard. The noise floor is the spread of the baseline measured with
 * different seeds; an "improvement" smaller than it is flagged as noise and not
 * kept silently (one of autoresearch's own kept changes was a seed change).
 */
export type Direction = "min" | "max";
export type Decision = "keep" | "discard" | "crash" | "timeout";

export interface DecisionInput {
  direction: Direction;
  /** The best metric so far (the baseline at first); null when none finished. */
  best: number | null;
  /** This experiment's metric; null when it produced none. */
  value: number | null;
  exit: "ok" | "crash" | "timeout";
  /** Improvements up to this size are indistinguishable from seed noise. 0 when unknown. */
  noiseFloor: number;
}

export interface DecisionResult {
  decision: Decision;
  /** Improvement over the best (positive is better), when both exist. */
  delta: number | null;
  /** True when the experiment looked better, but by less than the noise floor. */
  withinNoise: boolean;
  reason: string;
}

export function decideKeepOrDiscard(input: DecisionInput): DecisionResult {
  if (input.exit === "timeout")
    return { decision: "timeout", delta: null, withinNoise: false, reason: "ran past its time budget and was killed" };
  if (input.exit === "crash" || input.value === null || !Number.isFinite(input.value)) {
    return {
      decision: "crash",
      delta: null,
      withinNoise: false,
      reason: input.exit === "crash" ? "the experiment failed" : "no valid metric in the output",
    };
  }
  if (input.best === null) return { decision: "keep", delta: null, withinNoise: false, reason: "first result" };
  const delta = input.direction === "min" ? input.best - input.value : input.value - input.best;
  if (delta <= 0)
    return {
      decision: "discard",
      delta,
      withinNoise: false,
      reason: delta === 0 ? "no change" : "worse than the best",
    };
  if (delta <= input.noiseFloor) {
    return {
      decision: "discard",
      delta,
      withinNoise: true,
      reason: `better by ${fmt(delta)}, within the noise floor (${fmt(input.noiseFloor)}); flagged, not kept`,
    };
  }
  return { decision: "keep", delta, withinNoise: false, reason: `better by ${fmt(delta)}` };
}

/** The noise floor from repeated baseline runs: two sample standard deviations (0 with fewer than two runs). */
export function noiseFloor(values: number[]): number {
  const xs = values.filter(Number.isFinite);
  if (xs.length < 2) return 0;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
  return 2 * Math.sqrt(variance);
}

function fmt(x: number): string {
  return Math.abs(x) >= 0.01 ? x.toFixed(4) : x.toPrecision(3);
}

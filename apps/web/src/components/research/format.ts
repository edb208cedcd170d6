/** A metric with enough digits to tell close experiments apart (val_bpb 0.9979 vs 0.9970). */
export function formatMetric(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return value.toExponential(3);
  return value.toFixed(abs >= 100 ? 2 : 4);
}

/** A delta against the best, signed so that positive is better. */
export function formatDelta(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (value === 0) return "±0";
  return `${value > 0 ? "+" : "−"}${formatMetric(Math.abs(value))}`;
}

/**
 * Reading an experiment's output.
 *
 * Summary: autoresearch-style `name: value` lines at the end of the log, after
 * the last line that is exactly `---` (or anywhere, when there is no `---`);
 * the last value of a name wins.
 *
 * Steps, for live curves: one JSON object per line with a numeric `step` and
 * any numeric series, e.g. `{"step": 10, "loss": 2.31, "lr": 0.001}`. Anything
 * else on the line (or a line that is not such JSON) is ignored, never fatal.
 */
const SUMMARY_LINE =
  /^\s*([A-Za-z_][\w./-]*)\s*:\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf(?:inity)?|nan)\s*$/i;

function toNumber(text: string): number {
  const t = text.toLowerCase();
  if (t === "nan") return Number.NaN;
  if (t.endsWith("inf") || t.endsWith("infinity")) return t.startsWith("-") ? -Infinity : Infinity;
  return Number(text);
}

/** The summary metrics of a finished experiment's output. */
export function parseSummary(output: string): Record<string, number> {
  const lines = output.split(/\r?\n/);
  let start = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i]?.trim() === "---") {
      start = i + 1;
      break;
    }
  }
  const metrics: Record<string, number> = {};
  for (const line of lines.slice(start)) {
    const m = SUMMARY_LINE.exec(line);
    if (m) metrics[m[1] as string] = toNumber(m[2] as string);
  }
  return metrics;
}

export interface StepPoint {
  step: number;
  values: Record<string, number>;
}

/** A step line, or null when the line is not one. */
export function parseStepLine(line: string): StepPoint | null {
  const text = line.trim();
  if (!text.startsWith("{") || !text.endsWith("}")) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  const step = record.step;
  if (typeof step !== "number" || !Number.isFinite(step)) return null;
  const values: Record<string, number> = {};
  for (const [key, v] of Object.entries(record)) {
    if (key !== "step" && typeof v === "number" && Number.isFinite(v)) values[key] = v;
  }
  return Object.keys(values).length ? { step, values } : null;
}

export type MetricResult = { ok: true; value: number } | { ok: false; reason: string };

/** The objective from a summary, with a reason a user can act on when it is missing or not a number. */
export function readObjective(summary: Record<string, number>, name: string): MetricResult {
  if (!(name in summary)) {
    const seen = Object.keys(summary);
    return {
      ok: false,
      reason: `The output has no "${name}: <number>" summary line${seen.length ? ` (found: ${seen.join(", ")})` : ""}`,
    };
  }
  const value = summary[name] as number;
  if (!Number.isFinite(value)) return { ok: false, reason: `${name} is ${value}` };
  return { ok: true, value };
}

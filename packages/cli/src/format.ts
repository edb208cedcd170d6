import { formatDuration } from "@loopy/config/duration";

type Row = Record<string, string>;

/** A plain left-aligned table for terminals. */
export function table(rows: Row[], columns: string[]): string {
  if (rows.length === 0) return "";
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => r[c] ?? "")))].join(
    "\n",
  );
}

export function duration(startedAt: Date | null, finishedAt: Date | null): string {
  if (!startedAt) return "-";
  return formatDuration((finishedAt ?? new Date()).getTime() - startedAt.getTime());
}

/** A run's three times as the API gives them (core's run-times.ts: a running clock comes as its start). */
export interface RunTimesView {
  agentMs: number;
  checksMs: number;
  waitingMs: number;
  agentSince: Date | null;
  waitingSince: Date | null;
}

/** "agent 1m02s · checks 4.1s · waiting 3m", as the run page, list, overview and inbox show them (waiting only once it has begun). */
export function runTimes(times: RunTimesView, now = Date.now()): string {
  const since = (date: Date | null) => (date ? Math.max(0, now - new Date(date).getTime()) : 0);
  const waiting = times.waitingMs + since(times.waitingSince);
  const parts = [
    `agent ${formatDuration(times.agentMs + since(times.agentSince))}`,
    `checks ${formatDuration(times.checksMs)}`,
  ];
  if (waiting > 0 || times.waitingSince) parts.push(`waiting ${formatDuration(waiting)}`);
  return parts.join(" · ");
}

export function time(date: Date | null): string {
  return date ? date.toISOString().replace("T", " ").slice(0, 19) : "-";
}

/** A metric value: six decimals, or four significant digits when small; "-" when there is none. */
export function metric(value: number | null | undefined): string {
  if (value === null || value === undefined) return "-";
  return Math.abs(value) >= 0.01 ? value.toFixed(6) : value.toPrecision(4);
}

/** A metric delta with its sign. */
export function signed(value: number | null | undefined): string {
  if (value === null || value === undefined) return "-";
  return `${value >= 0 ? "+" : ""}${metric(value)}`;
}

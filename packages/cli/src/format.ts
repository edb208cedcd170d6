import { formatDuration } from "@loopy/config/duration";

type Row = Record<string, string>;

/** A plain left-aligned table for terminals. */
export function table(rows: Row[], columns: string[]): string {
  if (rows.length === 0) return "";
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => r[c] ?? "")))].join("\n");
}

export function duration(startedAt: Date | null, finishedAt: Date | null): string {
  if (!startedAt) return "-";
  return formatDuration((finishedAt ?? new Date()).getTime() - startedAt.getTime());
}

export function time(date: Date | null): string {
  return date ? date.toISOString().replace("T", " ").slice(0, 19) : "-";
}

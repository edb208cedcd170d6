/**
 * autoresearch's results.tsv: tab-separated `commit, <metric>, memory_gb,
 * status (keep | discard | crash), description`, one row per experiment, the
 * baseline first. Crashes are logged with 0 for the metric and memory.
 */
export interface ResultRow {
  commit: string;
  value: number | null;
  memoryGb: number | null;
  status: "keep" | "discard" | "crash";
  description: string;
}

export interface ResultsFile {
  metric: string;
  rows: ResultRow[];
}

/** Parses a results.tsv. Throws with the line number of the first bad row. */
export function parseResultsTsv(text: string): ResultsFile {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = lines[0]?.split("\t") ?? [];
  if (header.length < 4 || header[0]?.trim() !== "commit") {
    throw new Error(
      "Not a results.tsv: the first line must be a header starting with 'commit' (commit, metric, memory_gb, status, description)",
    );
  }
  const metric = (header[1] ?? "metric").trim();
  const rows = lines.slice(1).map((line, i) => {
    const cells = line.split("\t");
    const lineNo = i + 2;
    if (cells.length < 4)
      throw new Error(`results.tsv line ${lineNo}: expected at least 4 tab-separated columns, got ${cells.length}`);
    const status = (cells[3] ?? "").trim();
    if (status !== "keep" && status !== "discard" && status !== "crash")
      throw new Error(`results.tsv line ${lineNo}: status must be keep, discard or crash, got "${status}"`);
    const num = (s: string | undefined, what: string) => {
      const v = Number((s ?? "").trim());
      if (!Number.isFinite(v)) throw new Error(`results.tsv line ${lineNo}: ${what} is not a number ("${s}")`);
      return v;
    };
    const value = num(cells[1], metric);
    const memory = num(cells[2], "memory_gb");
    return {
      commit: (cells[0] ?? "").trim(),
      value: status === "crash" ? null : value,
      memoryGb: status === "crash" ? null : memory,
      status,
      description: cells.slice(4).join("\t").trim(),
    } satisfies ResultRow;
  });
  return { metric, rows };
}

/** Writes rows in the same format (crashes as 0.000000 and 0.0, like autoresearch). */
export function formatResultsTsv(file: ResultsFile): string {
  const lines = [["commit", file.metric, "memory_gb", "status", "description"].join("\t")];
  for (const r of file.rows) {
    lines.push(
      [
        r.commit,
        (r.value ?? 0).toFixed(6),
        (r.memoryGb ?? 0).toFixed(1),
        r.status,
        r.description.replace(/[\t\n]/g, " "),
      ].join("\t"),
    );
  }
  return `${lines.join("\n")}\n`;
}

/** The running best after each row (kept rows only), for the progression chart. */
export function runningBest(rows: ResultRow[], direction: "min" | "max"): Array<number | null> {
  let best: number | null = null;
  return rows.map((r) => {
    if (
      r.status === "keep" &&
      r.value !== null &&
      (best === null || (direction === "min" ? r.value < best : r.value > best))
    )
      best = r.value;
    return best;
  });
}

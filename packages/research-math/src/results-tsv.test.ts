import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { formatResultsTsv, parseResultsTsv, runningBest } from "./results-tsv.ts";

const fixture = readFileSync(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/autoresearch-h100-mar8.results.tsv"),
  "utf8",
);

describe("autoresearch results.tsv", () => {
  it("reads Karpathy's overnight H100 session", () => {
    const file = parseResultsTsv(fixture);
    expect(file.metric).toBe("val_bpb");
    expect(file.rows).toHaveLength(126);
    const count = (s: string) => file.rows.filter((r) => r.status === s).length;
    expect([count("keep"), count("discard"), count("crash")]).toEqual([23, 102, 1]);
    expect(file.rows[0]).toMatchObject({ value: 0.9979, status: "keep" });
    expect(file.rows.find((r) => r.status === "crash")).toMatchObject({ value: null, memoryGb: null });
    const best = runningBest(file.rows, "min");
    expect(best[0]).toBe(0.9979);
    expect(best.at(-1)).toBe(0.969686);
    // The running best never gets worse.
    for (let i = 1; i < best.length; i++) expect(best[i]! <= best[i - 1]!).toBe(true);
  });

  it("writes what it reads", () => {
    const file = parseResultsTsv(fixture);
    expect(parseResultsTsv(formatResultsTsv(file))).toEqual(file);
  });

  it("says which line is wrong", () => {
    expect(() => parseResultsTsv("hello\tworld")).toThrow(/Not a results.tsv/);
    expect(() => parseResultsTsv("commit\tval_bpb\tmemory_gb\tstatus\tdescription\nabc\t0.9\t1.0\tmaybe\tx")).toThrow(
      /line 2: status must be keep, discard or crash/,
    );
    expect(() => parseResultsTsv("commit\tval_bpb\tmemory_gb\tstatus\tdescription\nabc\tfast\t1.0\tkeep\tx")).toThrow(
      /line 2: val_bpb is not a number/,
    );
  });
});

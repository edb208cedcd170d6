import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { parseCheckpoints, parseTestCounts, runCheckpoints } from "./checkpoints.ts";

const files = [
  { path: "src/a.ts", status: "modified" as const, additions: 3, deletions: 1, binary: false },
  { path: "tests/a.test.ts", status: "added" as const, additions: 10, deletions: 0, binary: false },
];

describe("checkpoints (real processes)", () => {
  it("passes a command on exit 0 and keeps the counts for display", async () => {
    const [r] = await runCheckpoints(
      parseCheckpoints(
        [{ name: "t", kind: "command", command: "echo 'a test named 2 failed jobs'; echo 'Tests  3 passed (3)'" }],
        "test",
      ),
      tmpdir(),
      files,
    );
    expect(r).toMatchObject({ passed: true, counts: { passed: 3, failed: 2 } });
  });

  it("with pass: counts, needs a summary without failures", async () => {
    const cps = parseCheckpoints(
      [
        { name: "green", kind: "command", command: "echo '5 passed, 0 failed'", pass: "counts" },
        { name: "red", kind: "command", command: "echo '4 passed, 1 failed'", pass: "counts" },
        { name: "silent", kind: "command", command: "true", pass: "counts" },
        { name: "exit", kind: "command", command: "echo '5 passed, 0 failed'; exit 2", pass: "counts" },
      ],
      "test",
    );
    const results = await runCheckpoints(cps, tmpdir(), files);
    expect(results.map((r) => [r.name, r.passed])).toEqual([
      ["green", true],
      ["red", false],
      ["silent", false],
      ["exit", false],
    ]);
    expect(results[2]!.output).toContain('no "N passed, N failed" summary found');
  });

  it("applies diff rules to the run's changes", async () => {
    const results = await runCheckpoints(
      parseCheckpoints(
        [
          { name: "size", kind: "max_changed_lines", max: 10 },
          { name: "no-tests-dir", kind: "forbidden_paths", globs: ["tests/"] },
          { name: "protect-tests", kind: "protected_paths", globs: ["tests/**"] },
        ],
        "test",
      ),
      tmpdir(),
      files,
    );
    expect(results.map((r) => [r.name, r.passed])).toEqual([
      ["size", false],
      ["no-tests-dir", false],
      ["protect-tests", true], // an added test file is not a changed protected file
    ]);
    expect(results[0]!.output).toBe("14 changed lines (limit 10)");
  });

  it("times out a hanging check", async () => {
    const [r] = await runCheckpoints(
      parseCheckpoints([{ name: "hang", kind: "command", command: "sleep 30", timeout: "300ms" }], "test"),
      tmpdir(),
      [],
    );
    expect(r).toMatchObject({ passed: false });
    expect(r!.output).toContain("timed out after 300ms");
  });
});

describe("parseTestCounts", () => {
  it.each([
    ["Tests  12 passed | 1 failed (13)", { passed: 12, failed: 1 }],
    ["# pass 7\n# fail 0", undefined],
    ["==== 3 failed, 10 passed in 1.2s ====", { passed: 10, failed: 3 }],
    ["  5 passing (20ms)\n  2 failing", { passed: 5, failed: 2 }],
    ["all good", undefined],
  ])("%j", (text, counts) => {
    expect(parseTestCounts(text)).toEqual(counts);
  });
});

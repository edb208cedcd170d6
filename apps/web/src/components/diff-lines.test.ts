import { describe, expect, it } from "vitest";
import { parsePatch } from "./diff-lines";

describe("parsePatch", () => {
  it("numbers old and new lines across hunks", () => {
    const patch = [
      "diff --git a/a.txt b/a.txt",
      "index 1..2 100644",
      "--- a/a.txt",
      "+++ b/a.txt",
      "@@ -1,3 +1,3 @@",
      " one",
      "-two",
      "+2",
      " three",
      "@@ -10,1 +10,2 @@",
      " ten",
      "+eleven",
      "diff --git a/b.txt b/b.txt",
      "new file mode 100644",
      "--- /dev/null",
      "+++ b/b.txt",
      "@@ -0,0 +1 @@",
      "+new",
      "",
    ].join("\n");
    const files = parsePatch(patch);
    expect(files.map((f) => f.path)).toEqual(["a.txt", "b.txt"]);
    expect(files[0]!.lines.filter((l) => l.kind !== "hunk")).toEqual([
      { kind: "ctx", text: "one", oldLine: 1, newLine: 1 },
      { kind: "del", text: "two", oldLine: 2 },
      { kind: "add", text: "2", newLine: 2 },
      { kind: "ctx", text: "three", oldLine: 3, newLine: 3 },
      { kind: "ctx", text: "ten", oldLine: 10, newLine: 10 },
      { kind: "add", text: "eleven", newLine: 11 },
    ]);
    expect(files[1]!.lines.at(-1)).toEqual({ kind: "add", text: "new", newLine: 1 });
  });

  it("keeps changed lines that look like headers", () => {
    const files = parsePatch(["diff --git a/q.sql b/q.sql", "--- a/q.sql", "+++ b/q.sql", "@@ -1,2 +1,2 @@", "--- old comment", "+++ i;", " select 1;"].join("\n"));
    expect(files[0]!.lines.slice(1)).toEqual([
      { kind: "del", text: "-- old comment", oldLine: 1 },
      { kind: "add", text: "++ i;", newLine: 1 },
      { kind: "ctx", text: "select 1;", oldLine: 2, newLine: 2 },
    ]);
  });
});

import { describe, expect, it } from "vitest";
import { buildFileTree, languageFor, lineKeys, parsePatch, toSplitRows, treeOrder } from "./diff-lines";

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
    // Lines 4–9 sit unshown between the hunks; after line 11 the file may go on. An added file has nothing hidden.
    expect(files[0]!.gaps).toEqual([
      { before: 5, start: 4, end: 9, offset: 0 },
      { before: 8, start: 12, end: null, offset: 1 },
    ]);
    expect(files[1]!.gaps).toEqual([]);
  });

  it("places the hidden lines above a first hunk that starts late, and across a hunk that only deletes", () => {
    const files = parsePatch(
      [
        "diff --git a/x b/x",
        "--- a/x",
        "+++ b/x",
        "@@ -20,3 +20,2 @@",
        " a",
        "-b",
        " c",
        "@@ -40,2 +38,0 @@",
        "-y",
        "-z",
      ].join("\n"),
    );
    expect(files[0]!.gaps).toEqual([
      { before: 0, start: 1, end: 19, offset: 0 },
      { before: 4, start: 22, end: 38, offset: -1 },
      // Old lines 40–41 went after new line 38, so old line 42 is new line 39.
      { before: 7, start: 39, end: null, offset: -3 },
    ]);
  });

  it("keeps changed lines that look like headers", () => {
    const files = parsePatch(
      [
        "diff --git a/q.sql b/q.sql",
        "--- a/q.sql",
        "+++ b/q.sql",
        "@@ -1,2 +1,2 @@",
        "--- old comment",
        "+++ i;",
        " select 1;",
      ].join("\n"),
    );
    expect(files[0]!.lines.slice(1)).toEqual([
      { kind: "del", text: "-- old comment", oldLine: 1 },
      { kind: "add", text: "++ i;", newLine: 1 },
      { kind: "ctx", text: "select 1;", oldLine: 2, newLine: 2 },
    ]);
  });
});

describe("parsePatch notes", () => {
  it("says why a file has no lines: empty, deleted empty, mode only, renamed unchanged; none for a changed file", () => {
    const files = parsePatch(
      [
        "diff --git a/empty.txt b/empty.txt",
        "new file mode 100644",
        "index 0000000..e69de29",
        "diff --git a/gone.txt b/gone.txt",
        "deleted file mode 100644",
        "index e69de29..0000000",
        "diff --git a/run.sh b/run.sh",
        "old mode 100644",
        "new mode 100755",
        "diff --git a/old.md b/new.md",
        "similarity index 100%",
        "rename from old.md",
        "rename to new.md",
        "diff --git a/x b/x",
        "--- a/x",
        "+++ b/x",
        "@@ -1 +1 @@",
        "-a",
        "+b",
      ].join("\n"),
    );
    expect(files.map((f) => f.note)).toEqual([
      "Empty file",
      "Empty file deleted",
      "File mode changed from 100644 to 100755",
      "Renamed, content unchanged",
      undefined,
    ]);
  });
});

describe("toSplitRows", () => {
  it("pairs deletions with the additions that follow them and mirrors context", () => {
    const lines = parsePatch(
      ["diff --git a/a b/a", "--- a/a", "+++ b/a", "@@ -1,4 +1,3 @@", " keep", "-old1", "-old2", "+new1", " end"].join(
        "\n",
      ),
    )[0]!.lines;
    const rows = toSplitRows(lines);
    expect(rows.map((r) => [r.full?.kind ?? r.left?.text ?? null, r.right?.text ?? null])).toEqual([
      ["hunk", null],
      ["keep", "keep"],
      ["old1", "new1"],
      ["old2", null],
      ["end", "end"],
    ]);
  });
});

describe("buildFileTree", () => {
  it("joins single-folder chains, lists folders before files, and keeps each file's index", () => {
    const paths = ["src/app/page.tsx", "src/app/layout.tsx", "README.md", "src/lib/util.ts"];
    const tree = buildFileTree(paths);
    const show = (nodes: ReturnType<typeof buildFileTree>): unknown =>
      nodes.map((n) => (n.file !== undefined ? `${n.name}#${n.file}` : { [n.name]: show(n.children) }));
    expect(show(tree)).toEqual([
      { src: [{ app: ["layout.tsx#1", "page.tsx#0"] }, { lib: ["util.ts#3"] }] },
      "README.md#2",
    ]);
    expect(treeOrder(tree)).toEqual([1, 0, 3, 2]);
    expect(show(buildFileTree(["a/b/c/d.ts"]))).toEqual([{ "a/b/c": ["d.ts#0"] }]);
  });
});

describe("languageFor", () => {
  it("maps extensions and well-known names, and leaves unknown files plain", () => {
    expect(languageFor("src/x.tsx")).toBe("typescript");
    expect(languageFor("train.py")).toBe("python");
    expect(languageFor("Dockerfile")).toBe("dockerfile");
    expect(languageFor("notes.weird")).toBeNull();
    expect(languageFor("LICENSE")).toBeNull();
  });
});

describe("lineKeys", () => {
  it("gives every line of a file a distinct key, including repeated hunk headers and no-newline notes", () => {
    const [file] = parsePatch(
      [
        "diff --git a/x.txt b/x.txt",
        "--- a/x.txt",
        "+++ b/x.txt",
        "@@ -1,2 +1,2 @@",
        " same",
        "-old",
        "\\ No newline at end of file",
        "+new",
        "\\ No newline at end of file",
        "",
      ].join("\n"),
    );
    const keys = lineKeys(file!.lines);
    expect(keys).toHaveLength(file!.lines.length);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

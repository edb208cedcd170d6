import { describe, expect, it } from "vitest";
import { parseRawNumstat } from "./diff.ts";

describe("parseRawNumstat", () => {
  it("reads modified, added, deleted, renamed and binary files", () => {
    const raw = [
      ":100644 100644 aaaaaaa bbbbbbb M",
      "src/a.ts",
      ":000000 100644 0000000 ccccccc A",
      "new file.txt",
      ":100644 000000 ddddddd 0000000 D",
      "old.txt",
      ":100644 100644 eeeeeee fffffff R087",
      "from.ts",
      "to.ts",
      ":000000 100644 0000000 1111111 A",
      "logo.png",
      "3\t1\tsrc/a.ts",
      "2\t0\tnew file.txt",
      "0\t4\told.txt",
      "1\t1\t",
      "from.ts",
      "to.ts",
      "-\t-\tlogo.png",
      "",
    ].join("\0");
    expect(parseRawNumstat(raw)).toEqual([
      { path: "src/a.ts", status: "modified", additions: 3, deletions: 1, binary: false },
      { path: "new file.txt", status: "added", additions: 2, deletions: 0, binary: false },
      { path: "old.txt", status: "deleted", additions: 0, deletions: 4, binary: false },
      { path: "to.ts", oldPath: "from.ts", status: "renamed", additions: 1, deletions: 1, binary: false },
      { path: "logo.png", status: "added", additions: 0, deletions: 0, binary: true },
    ]);
  });

  it("returns no files for an empty diff", () => {
    expect(parseRawNumstat("")).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import { scriptFor } from "./script.ts";

describe("fake model scripts", () => {
  it("reads the steps of the first prompt", () => {
    expect(scriptFor(["Do it\n@write a.txt: hi\n@edit b.txt: x => y\n@run npm test\n@say ok"])).toEqual({
      steps: [
        { op: "write", path: "a.txt", content: "hi\n" },
        { op: "edit", path: "b.txt", old: "x", new: "y" },
        { op: "run", command: "npm test" },
      ],
      say: "ok",
    });
  });

  it("runs a follow-up's own steps, or the first prompt's steps tagged with its turn", () => {
    const first = "@write a.txt: one\n@2 write a.txt: two";
    expect(scriptFor([first]).steps).toEqual([{ op: "write", path: "a.txt", content: "one\n" }]);
    expect(scriptFor([first, "The tests failed: ..."]).steps).toEqual([
      { op: "write", path: "a.txt", content: "two\n" },
    ]);
    expect(scriptFor([first, "please\n@write c.txt: three"]).steps).toEqual([
      { op: "write", path: "c.txt", content: "three\n" },
    ]);
    expect(scriptFor([first, "no steps", "none either"]).steps).toEqual([]);
  });
});

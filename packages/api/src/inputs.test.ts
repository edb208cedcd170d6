import { describe, expect, it } from "vitest";
import { boundedJson, loopyId, repoPath, repoPathProblem, text } from "./inputs.ts";

describe("repoPathProblem", () => {
  it("lets paths inside the repository through", () => {
    for (const ok of [
      "README.md",
      "src/a.ts",
      "a/b/c.d.e",
      "dir with space/f",
      "**/*.py",
      "ünïcode/é.txt",
      "..hidden",
      "a..b",
      "./x",
    ])
      expect(repoPathProblem(ok), ok).toBeNull();
  });

  it("refuses traversal, absolute paths, NUL, control characters, backslashes, encoded traversal and option-like paths", () => {
    const cases: Array<[string, RegExp]> = [
      ["../etc/passwd", /^A path must be a path inside the repository \(no "\.\."\), got "\.\.\/etc\/passwd"$/],
      ["a/../../b", /no "\.\."/],
      ["..", /no "\.\."/],
      ["/etc/passwd", /not absolute/],
      ["C:/Windows/win.ini", /not absolute/],
      ["~/.ssh/id_rsa", /not absolute/],
      ["file\u0000.txt", /NUL/],
      ["a%00b", /NUL/],
      ["a\nb", /control characters/],
      ["..\\..\\windows", /not '\\'/],
      ["..%2F..%2Fetc%2Fpasswd", /no "\.\."/],
      ["%2e%2e/%2e%2e/etc/passwd", /no "\.\."/],
      ["%252e%252e%252fetc", /no "\.\."/],
      ["%2Fetc%2Fpasswd", /not absolute/],
      ["--output=/tmp/x", /not starting with '-'/],
      ["", /it is empty/],
    ];
    for (const [bad, why] of cases) expect(repoPathProblem(bad), JSON.stringify(bad)).toMatch(why);
  });

  it("is a zod schema with a readable message", () => {
    const result = repoPath(100, "The file").safeParse("../../etc/passwd");
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(
      'The file must be a path inside the repository (no ".."), got "../../etc/passwd"',
    );
  });
});

describe("input building blocks", () => {
  it("refuses NUL in text and anything but a Loopy id", () => {
    expect(text(10).safeParse("a\u0000b").error?.issues[0]?.message).toMatch(/NUL/);
    expect(text(3).safeParse("abcd").success).toBe(false);
    expect(loopyId.safeParse("k3j4h5g6f7").success).toBe(true);
    for (const bad of ["", "ABC", "a-b", "../x", "a".repeat(41), "a\u0000"])
      expect(loopyId.safeParse(bad).success, bad).toBe(false);
  });

  it("bounds free-form JSON: depth, size, NUL and non-finite numbers", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(boundedJson().safeParse(deep).error?.issues[0]?.message).toMatch(/nested deeper than 16/);
    expect(boundedJson().safeParse(Array.from({ length: 20_000 }, () => 1)).error?.issues[0]?.message).toMatch(
      /more than 10000 values/,
    );
    expect(boundedJson().safeParse({ a: ["x\u0000"] }).error?.issues[0]?.message).toMatch(/NUL/);
    expect(boundedJson().safeParse({ a: NaN }).error?.issues[0]?.message).toMatch(/finite/);
    expect(boundedJson().safeParse({ kind: "command", name: "test", command: "npm test" }).success).toBe(true);
  });
});

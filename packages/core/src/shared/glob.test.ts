import { describe, expect, it } from "vitest";
import { matchesAny } from "./glob.ts";

describe("glob rules", () => {
  it.each([
    ["tests/**", "tests/a.test.ts", true],
    ["tests/**", "tests/deep/b.ts", true],
    ["tests/**", "src/tests.ts", false],
    ["*.env", ".env", true],
    [".env*", ".env.local", true],
    ["*.env", "config/prod.env", true],
    ["src/*.ts", "src/a.ts", true],
    ["src/*.ts", "src/x/a.ts", false],
    ["src/**/*.ts", "src/a.ts", true],
    ["src/**/*.ts", "src/x/y/a.ts", true],
    ["prepare.py", "prepare.py", true],
    ["/prepare.py", "sub/prepare.py", false],
    ["a?.txt", "ab.txt", true],
    ["tests/", "tests/unit/a.ts", true],
    ["tests", "tests/a.ts", true],
    ["node_modules", "pkg/node_modules/x/index.js", true],
    ["secrets/", "src/secrets.ts", false],
    ["src/**/*.ts", "src/a.tsx", false],
  ])("%s vs %s → %s", (glob, path, expected) => {
    expect(matchesAny(path, [glob])).toBe(expected);
  });
});

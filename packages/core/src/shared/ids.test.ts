import { describe, expect, it } from "vitest";
import { newId } from "./ids.ts";

describe("newId", () => {
  it("makes short, branch-safe ids that start with a letter", () => {
    const ids = Array.from({ length: 2000 }, () => newId());
    for (const id of ids) expect(id).toMatch(/^[a-z][a-z0-9]{9}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

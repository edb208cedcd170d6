import { describe, expect, it } from "vitest";
import { canTransition, isTerminal, RUN_STATUSES, sourcesOf } from "./run-status.ts";

describe("run status machine", () => {
  it("moves a command run through queued → running → an end", () => {
    expect(canTransition("queued", "running")).toBe(true);
    for (const end of ["succeeded", "failed", "cancelled"] as const) expect(canTransition("running", end)).toBe(true);
  });

  it("never leaves a terminal state", () => {
    for (const from of RUN_STATUSES.filter(isTerminal)) {
      for (const to of RUN_STATUSES) expect(canTransition(from, to)).toBe(false);
    }
  });

  it("cannot skip running", () => {
    expect(canTransition("queued", "succeeded")).toBe(false);
    expect(sourcesOf("succeeded")).toEqual(["running", "verifying"]);
  });

  it("has room for review states", () => {
    expect(canTransition("verifying", "awaiting_review")).toBe(true);
    expect(canTransition("awaiting_review", "merged")).toBe(true);
  });
});

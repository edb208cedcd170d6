import { describe, expect, it } from "vitest";
import { RUN_TITLE_MAX, runTitle } from "./run-title.ts";

describe("runTitle", () => {
  it("is the first non-empty line, without a heading's #s, whitespace collapsed", () => {
    expect(runTitle({ prompt: "\n  ## Fix   the login\tbug\nDetails follow" })).toBe("Fix the login bug");
    expect(runTitle({ prompt: "npm run build && npm test" })).toBe("npm run build && npm test");
    expect(runTitle({ prompt: "   " })).toBe("Loopy run");
  });

  it("cuts long lines to 72 characters, between words where it can", () => {
    const title = runTitle({
      prompt: "Rewrite the settings page so that every field explains itself and saves on blur instead of a button",
    });
    expect(title).toBe("Rewrite the settings page so that every field explains itself and...");
    expect(title.length).toBeLessThanOrEqual(RUN_TITLE_MAX);
    expect(runTitle({ prompt: "x".repeat(200) })).toBe(`${"x".repeat(69)}...`);
  });
});

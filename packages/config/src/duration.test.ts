import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.ts";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["1.5s", 1_500],
    ["90", 90_000],
    [" 2M ", 120_000],
  ])("%s → %i ms", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it("takes numbers as seconds", () => {
    expect(parseDuration(2)).toBe(2000);
  });

  it.each(["", "abc", "5x", "10s junk", "-5s", "0s", "s5"])(
    "rejects %j with a message saying what is accepted",
    (input) => {
      expect(() => parseDuration(input)).toThrow(/30s, 5m, 1h30m|positive/);
    },
  );
});

describe("formatDuration", () => {
  it.each([
    [950, "950ms"],
    [12_345, "12.3s"],
    [245_000, "4m05s"],
    [7_380_000, "2h03m"],
  ])("%i ms → %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

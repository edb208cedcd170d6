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

  // What each caller hands it: keep these passing when the parser changes.
  it.each([
    // The environment's defaults (LOOPY_RUN_LEASE, LOOPY_RESEARCH_LEASE, LOOPY_SHUTDOWN_GRACE, LOOPY_DEFAULT_TIMEOUT)
    // and a checkpoint's default timeout.
    ["30s", 30_000],
    ["10m", 600_000],
    // The CLI's and the web forms' --timeout, --wall-clock and a research budget as people type them.
    ["1h", 3_600_000],
    ["2h15m30s", 8_130_000],
    ["1m30s500ms", 90_500],
    ["1.5h", 5_400_000],
    ["0.5", 500],
    ["10M", 600_000],
    ["\t45s\n", 45_000],
    ["100ms", 100],
  ])("accepts what callers pass: %j → %i ms", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each([
    // API inputs take a number of seconds (fractions too) up to a year: run/fleet timeouts, budgets.
    [0.1, 100],
    [0.25, 250],
    [300, 300_000],
    [366 * 24 * 3600, 366 * 24 * 3_600_000],
  ])("accepts a number of seconds from the API: %d → %i ms", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])("refuses %d seconds: not a positive duration", (input) => {
    expect(() => parseDuration(input)).toThrow(/positive number of seconds/);
  });

  it.each(["1d", "5 m", "1h 30m", "1m30", "  ", "5mm", "1e3s"])(
    "refuses %j (not one of the accepted forms)",
    (input) => {
      expect(() => parseDuration(input)).toThrow(/use forms like 30s, 5m, 1h30m or 500ms/);
    },
  );

  it.each([0.0001, "0.0001s", "0.4ms"])("refuses %j, which rounds to no time at all", (input) => {
    expect(() => parseDuration(input)).toThrow(/under 1ms/);
  });
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

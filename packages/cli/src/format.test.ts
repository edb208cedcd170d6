import { describe, expect, it } from "vitest";
import { runTimes } from "./format.ts";

describe("runTimes", () => {
  it("shows agent, checks and (once begun) waiting time, running clocks counted to now", () => {
    const now = Date.parse("2026-12-04T12:00:00Z");
    expect(
      runTimes({ agentMs: 62_000, checksMs: 4_100, waitingMs: 0, agentSince: null, waitingSince: null }, now),
    ).toBe("agent 1m02s · checks 4.1s");
    // Waiting for review: the agent's clock stands, the waiting clock runs.
    expect(
      runTimes(
        {
          agentMs: 62_000,
          checksMs: 4_100,
          waitingMs: 60_000,
          agentSince: null,
          waitingSince: new Date(now - 120_000),
        },
        now,
      ),
    ).toBe("agent 1m02s · checks 4.1s · waiting 3m00s");
    // A turn under way.
    expect(
      runTimes(
        { agentMs: 1_000, checksMs: 0, waitingMs: 0, agentSince: new Date(now - 2_000), waitingSince: null },
        now,
      ),
    ).toBe("agent 3.0s · checks 0ms");
  });
});

import { describe, expect, it } from "vitest";
import { runTimesAfter, runTimesAt, type RunTimes } from "./run-times.ts";

const at = (ms: number) => new Date(1_000_000 + ms);

describe("run times", () => {
  it("adds the running clocks up to now, and only those", () => {
    const times: RunTimes = {
      agentMs: 5_000,
      checksMs: 2_000,
      waitingMs: 1_000,
      agentSince: null,
      waitingSince: at(0),
    };
    expect(runTimesAt(times, at(3_000).getTime())).toEqual({ agentMs: 5_000, checksMs: 2_000, waitingMs: 4_000 });
    expect(runTimesAt({ ...times, waitingSince: null, agentSince: at(0) }, at(500).getTime())).toEqual({
      agentMs: 5_500,
      checksMs: 2_000,
      waitingMs: 1_000,
    });
  });

  it("follows a status seen live: working stops the waiting clock, waiting stops the agent's", () => {
    const working = runTimesAfter(
      { agentMs: 0, checksMs: 0, waitingMs: 1_000, agentSince: null, waitingSince: at(0) },
      "running",
      at(2_000),
    );
    expect(working).toEqual({ agentMs: 0, checksMs: 0, waitingMs: 3_000, agentSince: at(2_000), waitingSince: null });
    const waiting = runTimesAfter(working, "awaiting_review", at(5_000));
    expect(waiting).toEqual({
      agentMs: 3_000,
      checksMs: 0,
      waitingMs: 3_000,
      agentSince: null,
      waitingSince: at(5_000),
    });
    expect(runTimesAt(waiting, at(9_000).getTime()).agentMs).toBe(3_000);
  });
});

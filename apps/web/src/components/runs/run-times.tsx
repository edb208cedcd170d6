"use client";

import { useEffect, useState } from "react";
import { formatDuration } from "@loopy/config/duration";
import { runTimesAt, type RunTimes } from "@loopy/core/runs/times";

/**
 * A run's agent, checks and waiting times (packages/core/src/run-times.ts),
 * written the same way on the run page, the runs list, the overview and the
 * inbox. A running clock ticks: on its own timer, or on `now` when the page
 * already has one (the overview's thousand rows share a single timer).
 */
export function RunTimesText({ times, now }: { times: RunTimes; now?: number }) {
  const ticking = now === undefined && Boolean(times.agentSince || times.waitingSince);
  const [own, setOwn] = useState(() => Date.now());
  useEffect(() => {
    if (!ticking) return;
    const timer = setInterval(() => setOwn(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [ticking]);
  const t = runTimesAt(times, now ?? own);
  return (
    <span
      data-testid="run-times"
      className="whitespace-nowrap tabular-nums"
      title="Agent: the agent's turns. Checks: its checkpoints. Waiting: for a human to review."
    >
      agent {formatDuration(t.agentMs)} · checks {formatDuration(t.checksMs)}
      {(t.waitingMs > 0 || times.waitingSince) && <> · waiting {formatDuration(t.waitingMs)}</>}
    </span>
  );
}

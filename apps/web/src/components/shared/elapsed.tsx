"use client";

import { useEffect, useState } from "react";
import { formatDuration } from "@loopy/config/duration";

/** A run's duration; ticks every second while the run has not finished. */
export function Elapsed({ startedAt, finishedAt }: { startedAt: Date | null; finishedAt: Date | null }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!startedAt || finishedAt) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [startedAt, finishedAt]);
  if (!startedAt) return <span className="text-gray-500">—</span>;
  const end = finishedAt ? finishedAt.getTime() : now;
  return <span className="tabular-nums">{formatDuration(Math.max(0, end - startedAt.getTime()))}</span>;
}

export function formatTime(date: Date | null): string {
  if (!date) return "—";
  return date.toLocaleString(undefined, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

"use client";

import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTRPC } from "~/trpc/client";
import { Panel } from "~/components/ui/panel";

const STATUS_COLOR: Record<string, string> = {
  keep: "bg-emerald-400",
  discard: "bg-gray-400",
  flagged: "bg-amber-400",
  crash: "bg-red-400",
  timeout: "bg-orange-400",
  running: "bg-sky-400",
};

/**
 * A project's resource slots over the last hour: one row per slot, a bar for
 * each experiment that held it, and the share of the window each slot was busy.
 */
export function SlotTimeline({ project }: { project: string }) {
  const trpc = useTRPC();
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 5_000);
    return () => clearInterval(timer);
  }, []);
  // Refreshed by the loop page when an experiment changes state (pushed), not polled.
  const usage = useQuery(trpc.research.slots.queryOptions({ project }));
  if (!usage.data) return null;
  const { slots, intervals } = usage.data;
  const from = Math.min(now - 60 * 60_000, ...intervals.map((i) => new Date(i.start).getTime()));
  const span = Math.max(1, now - from);
  return (
    <Panel
      title="Slots"
      actions={<span className="text-xs text-gray-500">busy share since {new Date(from).toLocaleTimeString()}</span>}
    >
      <div className="space-y-1.5" data-testid="slot-timeline">
        {slots.map((slot) => {
          const mine = intervals.filter((i) => i.slot === slot.name);
          const busy = mine.reduce(
            (ms, i) => ms + ((i.end ? new Date(i.end).getTime() : now) - new Date(i.start).getTime()),
            0,
          );
          return (
            <div key={slot.name} className="flex items-center gap-3 text-xs">
              <span className="w-16 font-mono text-gray-300">{slot.name}</span>
              <div className="relative h-4 flex-1 overflow-hidden rounded bg-white/5">
                {mine.map((i) => {
                  const start = new Date(i.start).getTime();
                  const end = i.end ? new Date(i.end).getTime() : now;
                  return (
                    <div
                      key={i.experimentId}
                      title={`#${i.index} ${i.status}`}
                      className={`absolute top-0 h-full ${STATUS_COLOR[i.end ? i.status : "running"] ?? "bg-gray-400"} opacity-80`}
                      style={{
                        left: `${((start - from) / span) * 100}%`,
                        width: `${Math.max(0.3, ((end - start) / span) * 100)}%`,
                      }}
                    />
                  );
                })}
              </div>
              <span className="w-12 text-right tabular-nums text-gray-400">{Math.round((busy / span) * 100)}%</span>
              <span className="w-20 text-gray-500">{slot.busy ? "busy" : "free"}</span>
            </div>
          );
        })}
      </div>
    </Panel>
  );
}

"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import Link from "next/link";
import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ACTIVE_STATUSES, type ActiveStatus, type OverviewRun } from "@loopy/core/live/overview";
import { runTimesAfter } from "@loopy/core/runs/times";
import { useTRPC } from "~/trpc/client";
import { ErrorNote } from "~/components/ui/field";
import { NotificationsToggle } from "~/components/shared/notifications";
import { RunTimesText } from "./run-times";
import { StatusBadge } from "~/components/ui/badge";
import { surfaceClass } from "~/components/ui/panel";

const LABELS: Record<ActiveStatus, string> = {
  running: "Running",
  verifying: "Verifying",
  awaiting_review: "Awaiting review",
  needs_attention: "Needs attention",
  queued: "Queued",
};
const ORDER: ActiveStatus[] = ["needs_attention", "awaiting_review", "running", "verifying", "queued"];
const ROW_HEIGHT = 52;
const ACTIVE = new Set<string>(ACTIVE_STATUSES);

/**
 * The home page: every agent that is not done, live. The list holds all
 * active runs in a Map and renders only the rows in view; pushed changes come
 * in batches (at most two a second from the server) and are applied in one
 * state update each, so 1,000 busy agents stay smooth.
 */
export function Overview() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const initial = useQuery(trpc.overview.get.queryOptions(undefined, { refetchInterval: 15_000 }));
  const runs = useRef(new Map<string, OverviewRun>());
  // What the list shows: a copy of the map, taken after each snapshot or batch is applied.
  const [all, setAll] = useState<OverviewRun[]>([]);
  const [filter, setFilter] = useState<ActiveStatus | "all">("all");
  const [now, setNow] = useState(() => Date.now());
  const refetchSoon = useRef<NodeJS.Timeout | null>(null);

  // A fresh snapshot replaces the map (it is the truth; pushed batches only fill in between).
  useEffect(() => {
    if (!initial.data) return;
    runs.current = new Map(initial.data.runs.map((r) => [r.id, r]));
    setAll([...runs.current.values()]);
  }, [initial.data]);

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);

  const refetch = useCallback(() => {
    if (refetchSoon.current) return;
    refetchSoon.current = setTimeout(() => {
      refetchSoon.current = null;
      void queryClient.invalidateQueries({ queryKey: trpc.overview.get.queryKey() });
    }, 1000);
  }, [queryClient, trpc]);

  useSubscription(
    trpc.overview.live.subscriptionOptions(undefined, {
      onData: (batch) => {
        let unknown = false;
        for (const change of batch.runs) {
          const run = runs.current.get(change.runId);
          if (!run) {
            // A run this page has not seen yet (just launched): the next snapshot brings its details.
            if (!change.status || ACTIVE.has(change.status)) unknown = true;
            continue;
          }
          if (change.status && !ACTIVE.has(change.status)) {
            runs.current.delete(change.runId);
            continue;
          }
          const next = { ...run };
          if (change.status) {
            next.status = change.status as OverviewRun["status"];
            if (change.status === "running" && !next.startedAt) next.startedAt = new Date(batch.at);
            // The clocks follow the state until the next snapshot brings the stored times.
            if (change.status !== run.status) next.times = runTimesAfter(run.times, change.status, new Date(batch.at));
          }
          if (change.line) {
            next.activity = change.line;
            next.activityAt = change.lineAt ? new Date(change.lineAt) : new Date(batch.at);
          }
          runs.current.set(change.runId, next);
        }
        // After a Redis outage the changes in between are gone: the snapshot has them.
        if (unknown || batch.resync) refetch();
        setAll([...runs.current.values()]);
      },
    }),
  );

  const counts = useMemo(() => {
    const c = Object.fromEntries(ORDER.map((s) => [s, 0])) as Record<ActiveStatus, number>;
    for (const r of all) c[r.status as ActiveStatus] = (c[r.status as ActiveStatus] ?? 0) + 1;
    return c;
  }, [all]);
  const shown = useMemo(() => {
    const list = filter === "all" ? all : all.filter((r) => r.status === filter);
    // Those needing a person first, then the busiest; newest first within a state.
    return list.sort(
      (a, b) =>
        ORDER.indexOf(a.status as ActiveStatus) - ORDER.indexOf(b.status as ActiveStatus) ||
        b.createdAt.getTime() - a.createdAt.getTime(),
    );
  }, [all, filter]);

  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: shown.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
  });
  const data = initial.data;

  return (
    <div className="space-y-5">
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div>
          <h1 className="text-xl font-semibold text-white">Overview</h1>
          <p className="text-sm text-gray-400">Every agent that is not done, live.</p>
        </div>
        <div className="flex items-center gap-4 text-sm text-gray-400">
          <span
            data-testid="queue-depth"
            title="queued runs in Postgres (fleet members wait there for a slot) / jobs waiting in BullMQ"
          >
            Queue <b className="tabular-nums text-gray-200">{counts.queued}</b>
            {data && <span className="text-gray-500"> ({data.queue.jobsWaiting} jobs waiting)</span>}
          </span>
          <span data-testid="throughput" title="runs that finished or reached review">
            Done <b className="tabular-nums text-gray-200">{data?.throughput.last10m ?? 0}</b> in 10 min,{" "}
            <b className="tabular-nums text-gray-200">{data?.throughput.lastHour ?? 0}</b> in 1 h
          </span>
          <NotificationsToggle />
        </div>
      </div>

      <div className="grid grid-cols-2 gap-3 md:grid-cols-5">
        {ORDER.map((status) => (
          <button
            key={status}
            type="button"
            data-testid={`count-${status}`}
            onClick={() => setFilter(filter === status ? "all" : status)}
            className={`rounded-lg border px-4 py-3 text-left ${filter === status ? "border-sky-400/60 bg-sky-500/10" : "border-white/10 bg-surface hover:border-white/20"}`}
          >
            <div className="text-2xl font-semibold tabular-nums text-white">{counts[status]}</div>
            <div className="text-xs uppercase tracking-wide text-gray-400">{LABELS[status]}</div>
          </button>
        ))}
      </div>

      <ErrorNote message={initial.error?.message} />
      {data?.truncated && <p className="text-xs text-amber-300">Showing the newest {data.runs.length} active runs.</p>}

      <section className={surfaceClass}>
        <div className="grid grid-cols-[9rem_minmax(0,1.2fr)_minmax(0,2fr)_16rem_5rem] gap-3 border-b border-white/10 px-4 py-2 text-xs uppercase tracking-wide text-gray-500">
          <span>State</span>
          <span>Run</span>
          <span>Activity</span>
          <span className="text-right">Time</span>
          <span className="text-right">Cost</span>
        </div>
        <div ref={scroller} data-testid="overview-list" className="h-[calc(100vh-330px)] min-h-64 overflow-auto">
          {shown.length === 0 && !initial.isLoading && (
            <p className="px-4 py-8 text-center text-sm text-gray-500">
              {filter === "all" ? (
                <>
                  No agent is working. Launch a{" "}
                  <Link className="underline" href="/runs">
                    run
                  </Link>
                  , a{" "}
                  <Link className="underline" href="/fleets">
                    fleet
                  </Link>{" "}
                  or a{" "}
                  <Link className="underline" href="/research">
                    research loop
                  </Link>
                  .
                </>
              ) : (
                `Nothing ${LABELS[filter].toLowerCase()}.`
              )}
            </p>
          )}
          <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
            {virtualizer.getVirtualItems().map((item) => {
              const run = shown[item.index]!;
              return (
                <div
                  key={run.id}
                  style={{
                    position: "absolute",
                    top: 0,
                    left: 0,
                    right: 0,
                    height: ROW_HEIGHT,
                    transform: `translateY(${item.start}px)`,
                  }}
                >
                  <Row run={run} now={now} />
                </div>
              );
            })}
          </div>
        </div>
      </section>
    </div>
  );
}

const Row = memo(function Row({ run, now }: { run: OverviewRun; now: number }) {
  return (
    <Link
      href={`/runs/${run.id}`}
      data-testid="overview-row"
      data-run-id={run.id}
      data-status={run.status}
      className="grid h-full grid-cols-[9rem_minmax(0,1.2fr)_minmax(0,2fr)_16rem_5rem] items-center gap-3 border-b border-white/5 px-4 text-sm hover:bg-white/[0.03]"
    >
      <span>
        <StatusBadge status={run.status} testId="overview-status" />
      </span>
      <span className="min-w-0">
        <span className="block truncate text-gray-100">{run.title}</span>
        <span className="block truncate text-xs text-gray-500">
          {run.project} · {run.agent}
          {run.fleetId && ` · fleet ${run.fleetId}#${run.memberIndex ?? "?"}`}
        </span>
      </span>
      <span
        data-testid="overview-activity"
        className="truncate font-mono text-xs text-gray-400"
        title={run.statusReason ?? run.activity ?? ""}
      >
        {run.status === "needs_attention" && run.statusReason ? run.statusReason : (run.activity ?? "—")}
      </span>
      <span className="truncate text-right text-xs text-gray-300">
        <RunTimesText times={run.times} now={now} />
      </span>
      <span className="text-right tabular-nums text-gray-400">
        {run.costUsd > 0 ? `$${run.costUsd.toFixed(2)}` : "—"}
      </span>
    </Link>
  );
});

"use client";

import { useMutation, useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useRouter } from "next/navigation";
import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { formatDuration } from "@loopy/config/duration";
import { downsampleMinMax, type XY } from "@loopy/research-math/downsample";
import { useTRPC } from "~/trpc/client";
import { Elapsed, formatTime } from "~/components/shared/elapsed";
import { ErrorNote, Meta, PageError, Panel } from "~/components/ui/field";
import { toggled } from "~/components/review/diff/diff-lines";
import { StatusBadge } from "~/components/ui/badge";
import { CurveChart, ProgressionChart, type CurveSeries } from "./charts";
import { formatDelta, formatMetric } from "./format";
import { PatchView } from "./patch-view";
import { SlotTimeline } from "./slot-timeline";

/** Points kept per series in the browser; past this a live series is min/max-downsampled to half. */
const LIVE_LIMIT = 4_000;
/** What a chart asks the server for: about two points per horizontal pixel of a wide chart. */
const CHART_POINTS = 1_600;
const ACTIVE = new Set(["queued", "running"]);
/** How often pushed points reach the charts. */
const LIVE_FLUSH_MS = 400;
const COLORS = ["#38bdf8", "#34d399", "#f472b6", "#facc15", "#a78bfa", "#fb923c"];

interface LivePoint {
  id: string;
  experimentId: string;
  step: number;
  name: string;
  value: number;
}

/**
 * A research loop, live: its state and best, the progression chart, the
 * running experiment (curves pushed as they are logged, log tail, progress
 * against its budget), an overlay of chosen experiments' curves, the table of
 * experiments, and the selected experiment's diff.
 */
export function LoopView({ loopId, initialExperiment = null }: { loopId: string; initialExperiment?: string | null }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const loop = useQuery(trpc.research.get.queryOptions({ loopId }));
  const experiments = useQuery(trpc.research.experiments.queryOptions({ loopId }));
  const [selected, setSelectedState] = useState<string | null>(initialExperiment);
  // The selected experiment is in the URL, so a link opens it.
  const router = useRouter();
  const setSelected = useCallback(
    (id: string) => {
      setSelectedState(id);
      // Through the router (not history.replaceState), so a navigation still settling cannot put the old URL back.
      router.replace(`/research/${loopId}?experiment=${encodeURIComponent(id)}`, { scroll: false });
    },
    [loopId, router],
  );
  const [compare, setCompare] = useState<ReadonlySet<string>>(new Set());
  const [live, setLive] = useState<Record<string, LivePoint[]>>({});
  const [streamReady, setStreamReady] = useState(false);
  const refetchTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const tailTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const startedSeen = useRef(new Set<string>());
  const pending = useRef(new Map<string, LivePoint[]>());
  const flushTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(
    () => () => {
      clearTimeout(refetchTimer.current);
      clearTimeout(tailTimer.current);
      clearTimeout(flushTimer.current);
    },
    [],
  );
  // If the loop has no stored event yet, the stream is still set up once it connects.
  useEffect(() => {
    const t = setTimeout(() => setStreamReady(true), 1500);
    return () => clearTimeout(t);
  }, []);

  const refetchLoop = useCallback(() => {
    if (refetchTimer.current) return;
    refetchTimer.current = setTimeout(() => {
      refetchTimer.current = undefined;
      void queryClient.invalidateQueries({ queryKey: trpc.research.get.queryKey({ loopId }) });
      void queryClient.invalidateQueries({ queryKey: trpc.research.experiments.queryKey({ loopId }) });
      void queryClient.invalidateQueries({ queryKey: trpc.research.slots.queryKey() });
    }, 150);
  }, [queryClient, trpc, loopId]);

  const stream = useSubscription(
    trpc.research.events.subscriptionOptions(
      { loopId },
      {
        enabled: !loop.error,
        onData: (tracked) => {
          setStreamReady(true);
          const item = tracked.data;
          if (item.kind === "event") {
            refetchLoop();
            if (item.event.event.type === "experiment") {
              void queryClient.invalidateQueries({
                queryKey: trpc.research.experiment.queryKey({ experimentId: item.event.event.experimentId }),
              });
            }
            return;
          }
          // Points come in many small batches; the charts take them a few times a second, not per batch.
          const waiting = pending.current;
          waiting.set(item.experimentId, [...(waiting.get(item.experimentId) ?? []), ...item.points]);
          if (!flushTimer.current) {
            flushTimer.current = setTimeout(() => {
              flushTimer.current = undefined;
              const batch = new Map(pending.current);
              pending.current.clear();
              setLive((prev) => {
                const next = { ...prev };
                for (const [id, points] of batch) {
                  const merged = [...(next[id] ?? []), ...points];
                  next[id] = merged.length > LIVE_LIMIT * 4 ? merged.slice(-LIVE_LIMIT * 4) : merged;
                }
                return next;
              });
            }, LIVE_FLUSH_MS);
          }
          // The log tail is stored about once a second while the experiment runs; follow it at that pace.
          if (!tailTimer.current) {
            tailTimer.current = setTimeout(() => {
              tailTimer.current = undefined;
              void queryClient.invalidateQueries({
                queryKey: trpc.research.experiment.queryKey({ experimentId: item.experimentId }),
              });
              // The first points mean the process started: the list learns its start time (for the budget bar).
              if (!startedSeen.current.has(item.experimentId)) {
                startedSeen.current.add(item.experimentId);
                refetchLoop();
              }
            }, 1000);
          }
        },
      },
    ),
  );

  const cancel = useMutation(trpc.research.cancel.mutationOptions({ onSuccess: refetchLoop }));
  const pause = useMutation(trpc.research.pause.mutationOptions({ onSuccess: refetchLoop }));
  const resume = useMutation(trpc.research.resume.mutationOptions({ onSuccess: refetchLoop }));
  const rows = useMemo(() => experiments.data ?? [], [experiments.data]);
  const running = rows.find((e) => e.status === "running") ?? null;
  const best = loop.data?.bestExperimentId ?? null;
  const focus = selected ?? running?.id ?? best ?? rows.at(-1)?.id ?? null;
  const progress = useMemo(
    () =>
      rows.map((e) => ({
        id: e.id,
        index: e.index,
        status: e.status,
        kind: e.kind,
        metric: e.metricValue,
        best: e.bestSoFar,
        description: e.description,
      })),
    [rows],
  );
  const labels = useMemo(
    () =>
      Object.fromEntries(
        rows.map((e) => [e.id, `#${e.index}${e.id === best ? " (best)" : e.id === running?.id ? " (running)" : ""}`]),
      ),
    [rows, best, running?.id],
  );
  const onCompare = useCallback((id: string) => setCompare((prev) => toggled(prev, id)), []);

  if (loop.error)
    return <PageError message={loop.error.message} back={{ href: "/research", label: "Back to research" }} />;
  if (!loop.data) return <p className="text-sm text-gray-400">Loading loop…</p>;
  const l = loop.data;
  const kept = rows.filter((e) => e.status === "keep" && e.kind === "candidate").length;
  const candidates = rows.filter((e) => e.kind === "candidate").length;
  const baseline = rows.find((e) => e.kind === "baseline" && e.metricValue !== null);
  const overlay = [...new Set([...(running ? [running.id] : []), ...(best ? [best] : []), ...compare])];

  return (
    <div className="space-y-5">
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div className="space-y-1">
          <div className="flex items-center gap-3">
            <h1 className="text-lg text-white">{l.name}</h1>
            <StatusBadge status={l.status} testId="loop-status" />
            <span className="text-xs text-gray-500" data-testid="stream-state">
              {stream.status === "pending" ? "live" : stream.status}
            </span>
          </div>
          <p className="font-mono text-sm text-gray-400">$ {l.command}</p>
        </div>
        <div className="flex items-center gap-2">
          <ExportButton loopId={loopId} />
          {(l.status === "running" || l.status === "queued") && (
            <button
              type="button"
              onClick={() => pause.mutate({ loopId })}
              disabled={pause.isPending}
              title="The experiment in progress finishes; no new one starts until you resume"
              className="rounded-md border border-white/15 px-3 py-1.5 text-sm text-gray-200 hover:bg-white/5 disabled:opacity-50"
            >
              Pause
            </button>
          )}
          {l.status === "paused" && (
            <button
              type="button"
              onClick={() => resume.mutate({ loopId })}
              disabled={resume.isPending}
              className="rounded-md border border-white/15 px-3 py-1.5 text-sm text-gray-200 hover:bg-white/5 disabled:opacity-50"
            >
              Resume
            </button>
          )}
          {(ACTIVE.has(l.status) || l.status === "paused") && (
            <button
              type="button"
              onClick={() => cancel.mutate({ loopId })}
              disabled={cancel.isPending}
              className="rounded-md border border-red-400/40 px-3 py-1.5 text-sm text-red-200 hover:bg-red-500/10 disabled:opacity-50"
            >
              {cancel.isPending ? "Stopping…" : "Stop loop"}
            </button>
          )}
        </div>
      </div>
      <ErrorNote message={cancel.error?.message ?? pause.error?.message ?? resume.error?.message} />
      {l.statusReason && (
        <p className="rounded-md border border-white/10 bg-white/5 px-3 py-2 text-sm text-gray-200">{l.statusReason}</p>
      )}

      <dl className="grid grid-cols-2 gap-x-6 gap-y-2 rounded-lg border border-white/10 bg-[#11151d] p-4 text-sm md:grid-cols-6">
        <Meta label="Project" value={l.project.name} />
        <Meta
          label="Proposer"
          value={l.agentProfile ? `${l.agentProfile.name} (${l.agentProfile.adapter})` : l.proposer}
        />
        <Meta label="Metric" value={`${l.metric} (${l.direction === "min" ? "lower" : "higher"} is better)`} mono />
        <Meta label="Best" value={<span data-testid="loop-best">{formatMetric(l.bestMetric)}</span>} mono />
        <Meta
          label="From baseline"
          value={
            baseline && l.bestMetric !== null
              ? formatDelta((l.direction === "min" ? -1 : 1) * (l.bestMetric - baseline.metricValue!))
              : "—"
          }
          mono
        />
        <Meta
          label="Noise floor"
          value={l.noiseFloor === null ? "measuring…" : `± ${formatMetric(l.noiseFloor)}`}
          mono
        />
        <Meta
          label="Candidates"
          value={
            <span data-testid="loop-count">{`${candidates}${l.maxExperiments ? ` of ${l.maxExperiments}` : ""}`}</span>
          }
        />
        <Meta label="Kept" value={`${kept} (+${rows.length - candidates} baseline and re-runs)`} />
        <Meta label="Budget" value={`${formatDuration(l.budgetMs)} (killed at ×${l.hardKillMultiple})`} />
        <Meta label="Branch" value={l.branch} mono />
        <Meta label="Started" value={formatTime(l.startedAt)} />
        <Meta label="Duration" value={<Elapsed startedAt={l.startedAt} finishedAt={l.finishedAt} />} />
      </dl>

      <Panel title="Progression" actions={<span className="text-xs text-gray-500">click a point for its diff</span>}>
        <ProgressionChart
          metric={l.metric}
          direction={l.direction}
          selected={focus}
          onSelect={setSelected}
          points={progress}
        />
      </Panel>

      {running && (
        <RunningExperiment
          experimentId={running.id}
          index={running.index}
          kind={running.kind}
          description={running.description}
          startedAt={running.startedAt}
          budgetMs={l.budgetMs}
          hardKillMultiple={l.hardKillMultiple}
          live={live[running.id]}
          ready={streamReady}
        />
      )}

      <Panel
        title="Curves"
        actions={
          <span className="text-xs text-gray-500">the running experiment, the best, and any you tick below</span>
        }
      >
        <CurveOverlay ids={overlay} live={live} ready={streamReady} labels={labels} />
      </Panel>

      <Panel title="Experiments">
        <ExperimentsTable
          rows={rows}
          focus={focus}
          compare={compare}
          onSelect={setSelected}
          onCompare={onCompare}
          best={best}
        />
      </Panel>

      {focus && <ExperimentDetail experimentId={focus} live={live[focus]} ready={streamReady} />}

      {(l.slots as string[]).length > 0 && <SlotTimeline project={l.project.id} />}
    </div>
  );
}

type PointsPage = {
  lastId: string | null;
  series: Array<{ name: string; points: Array<{ step: number; value: number }> }>;
};

/** Server points (downsampled) plus what the stream pushed after them, per series name. */
function mergeSeries(base: PointsPage | undefined, live: LivePoint[] | undefined): Map<string, XY[]> {
  const byName = new Map<string, XY[]>();
  if (!base) return byName;
  for (const s of base.series)
    byName.set(
      s.name,
      s.points.map((p) => ({ x: p.step, y: p.value })),
    );
  const after = base.lastId ? BigInt(base.lastId) : null;
  for (const p of live ?? []) {
    if (after !== null && BigInt(p.id) <= after) continue;
    let list = byName.get(p.name);
    if (!list) byName.set(p.name, (list = []));
    list.push({ x: p.step, y: p.value });
  }
  for (const [name, list] of byName) {
    list.sort((a, b) => a.x - b.x);
    if (list.length > LIVE_LIMIT) byName.set(name, downsampleMinMax(list, CHART_POINTS));
  }
  return byName;
}

/** Asked for once the stream is set up, so no point falls between the two (live ones past lastId are added). */
function pointsQuery(trpc: ReturnType<typeof useTRPC>, experimentId: string, ready: boolean) {
  return {
    ...trpc.research.points.queryOptions({ experimentId, maxPoints: CHART_POINTS }),
    enabled: ready,
    staleTime: Infinity,
  };
}

function RunningExperiment(props: {
  experimentId: string;
  index: number;
  kind: string;
  description: string | null;
  startedAt: Date | null;
  budgetMs: number;
  hardKillMultiple: number;
  live: LivePoint[] | undefined;
  ready: boolean;
}) {
  const trpc = useTRPC();
  const detail = useQuery(trpc.research.experiment.queryOptions({ experimentId: props.experimentId }));
  const base = useQuery(pointsQuery(trpc, props.experimentId, props.ready));
  const series = useMemo(() => mergeSeries(base.data, props.live), [base.data, props.live]);
  const names = [...series.keys()];
  const [chosen, setChosen] = useState<string | null>(null);
  const name = chosen && series.has(chosen) ? chosen : (names.find((n) => n === "loss") ?? names[0] ?? "loss");
  return (
    <Panel
      title={`Running: experiment #${props.index} (${props.kind})`}
      actions={
        names.length > 1 && (
          <select
            aria-label="Series"
            className="rounded border border-white/10 bg-black/30 px-2 py-0.5 text-xs text-gray-200"
            value={name}
            onChange={(e) => setChosen(e.target.value)}
          >
            {names.map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        )
      }
    >
      <div className="space-y-3" data-testid="running-experiment" data-experiment-id={props.experimentId}>
        {props.description && <p className="text-sm text-gray-300">{props.description}</p>}
        <BudgetBar startedAt={props.startedAt} budgetMs={props.budgetMs} hardKillMultiple={props.hardKillMultiple} />
        <CurveChart
          testId="live-curve"
          name={name}
          series={[{ key: props.experimentId, label: name, color: COLORS[0]!, points: series.get(name) ?? [] }]}
        />
        <pre
          data-testid="log-tail"
          className="max-h-48 overflow-auto rounded-md bg-black/40 p-3 font-mono text-xs leading-5 text-gray-300"
        >
          {detail.data?.logTail || "waiting for output…"}
        </pre>
      </div>
    </Panel>
  );
}

function BudgetBar({
  startedAt,
  budgetMs,
  hardKillMultiple,
}: {
  startedAt: Date | null;
  budgetMs: number;
  hardKillMultiple: number;
}) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, []);
  const elapsed = startedAt ? Math.max(0, now - startedAt.getTime()) : 0;
  const share = Math.min(1, elapsed / budgetMs);
  const over = elapsed > budgetMs;
  return (
    <div className="space-y-1">
      <div
        className="h-2 overflow-hidden rounded-full bg-white/10"
        role="progressbar"
        aria-label="Time used of the budget"
        aria-valuenow={Math.round(share * 100)}
        aria-valuemin={0}
        aria-valuemax={100}
      >
        <div
          className={`h-full ${over ? "bg-orange-400" : "bg-sky-400"} transition-[width] duration-200`}
          style={{ width: `${share * 100}%` }}
        />
      </div>
      <p className="text-xs text-gray-500">
        {startedAt ? `${formatDuration(elapsed)} of ${formatDuration(budgetMs)}` : "waiting for a slot…"}
        {over && ` — over budget; killed at ${formatDuration(budgetMs * hardKillMultiple)}`}
      </p>
    </div>
  );
}

function CurveOverlay({
  ids,
  live,
  ready,
  labels,
}: {
  ids: string[];
  live: Record<string, LivePoint[]>;
  ready: boolean;
  labels: Record<string, string>;
}) {
  const trpc = useTRPC();
  const shown = ids.slice(0, COLORS.length);
  const bases = useQueries({ queries: shown.map((id) => pointsQuery(trpc, id, ready)) });
  const seriesList = shown.map((id, i) => ({ id, series: mergeSeries(bases[i]?.data, live[id]) }));
  const names = [...new Set(seriesList.flatMap((s) => [...s.series.keys()]))];
  const [chosen, setChosen] = useState<string | null>(null);
  const name = chosen && names.includes(chosen) ? chosen : (names.find((n) => n === "loss") ?? names[0] ?? "loss");
  const series: CurveSeries[] = seriesList.map((s, i) => ({
    key: s.id,
    label: labels[s.id] ?? s.id,
    color: COLORS[i % COLORS.length]!,
    points: s.series.get(name) ?? [],
  }));
  return (
    <div className="space-y-2">
      {names.length > 1 && (
        <select
          aria-label="Overlay series"
          className="rounded border border-white/10 bg-black/30 px-2 py-0.5 text-xs text-gray-200"
          value={name}
          onChange={(e) => setChosen(e.target.value)}
        >
          {names.map((n) => (
            <option key={n}>{n}</option>
          ))}
        </select>
      )}
      <CurveChart testId="overlay-curve" name={name} series={series} />
    </div>
  );
}

type ExperimentRow = {
  id: string;
  index: number;
  kind: string;
  status: string;
  reason: string | null;
  description: string | null;
  metricValue: number | null;
  deltaVsBest: number | null;
  durationMs: number | null;
  additions: number | null;
  deletions: number | null;
  slot: string | null;
};

const ExperimentsTable = memo(function ExperimentsTable({
  rows,
  focus,
  compare,
  onSelect,
  onCompare,
  best,
}: {
  rows: ExperimentRow[];
  focus: string | null;
  compare: ReadonlySet<string>;
  onSelect: (id: string) => void;
  onCompare: (id: string) => void;
  best: string | null;
}) {
  if (rows.length === 0) return <p className="text-sm text-gray-500">No experiments yet.</p>;
  return (
    <div className="max-h-[32rem] overflow-auto">
      <table className="w-full text-left text-sm" data-testid="experiments-table">
        <thead className="sticky top-0 bg-[#11151d] text-xs uppercase tracking-wide text-gray-500">
          <tr>
            <th className="py-2 pr-2 font-medium" title="Overlay its curves">
              ⇄
            </th>
            <th className="py-2 pr-3 font-medium">#</th>
            <th className="py-2 pr-3 font-medium">Status</th>
            <th className="py-2 pr-3 font-medium">Kind</th>
            <th className="py-2 pr-3 text-right font-medium">Metric</th>
            <th className="py-2 pr-3 text-right font-medium">vs best</th>
            <th className="py-2 pr-3 text-right font-medium">Duration</th>
            <th className="py-2 pr-3 font-medium">Description</th>
            <th className="py-2 text-right font-medium">Diff</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-white/5">
          {[...rows].reverse().map((e) => (
            <tr
              key={e.id}
              data-experiment-id={e.id}
              className={`cursor-pointer hover:bg-white/5 ${focus === e.id ? "bg-sky-500/10" : ""}`}
              onClick={() => onSelect(e.id)}
            >
              <td className="py-1.5 pr-2" onClick={(ev) => ev.stopPropagation()}>
                <input
                  type="checkbox"
                  aria-label={`Overlay experiment ${e.index}`}
                  checked={compare.has(e.id)}
                  onChange={() => onCompare(e.id)}
                />
              </td>
              <td className="py-1.5 pr-3 font-mono text-xs text-gray-400">
                {e.index}
                {e.id === best && (
                  <span className="ml-1 text-emerald-300" title="best">
                    ★
                  </span>
                )}
              </td>
              <td className="py-1.5 pr-3">
                <StatusBadge status={e.status} testId="experiment-status" />
              </td>
              <td className="py-1.5 pr-3 text-xs text-gray-400">{e.kind}</td>
              <td className="py-1.5 pr-3 text-right font-mono text-xs text-gray-200">{formatMetric(e.metricValue)}</td>
              <td
                className={`py-1.5 pr-3 text-right font-mono text-xs ${e.deltaVsBest !== null && e.deltaVsBest < 0 ? "text-gray-500" : "text-emerald-300"}`}
              >
                {formatDelta(e.deltaVsBest)}
              </td>
              <td className="py-1.5 pr-3 text-right text-xs text-gray-400">
                {e.durationMs === null ? "—" : formatDuration(e.durationMs)}
              </td>
              <td
                className="max-w-md truncate py-1.5 pr-3 text-xs text-gray-300"
                title={e.reason ? `${e.description ?? ""} — ${e.reason}` : (e.description ?? "")}
              >
                {e.description ?? ""}
                {e.reason && <span className="text-gray-500"> — {e.reason}</span>}
              </td>
              <td className="py-1.5 text-right font-mono text-xs">
                {e.additions === null ? (
                  <span className="text-gray-600">—</span>
                ) : (
                  <>
                    <span className="text-emerald-400">+{e.additions}</span>{" "}
                    <span className="text-red-400">−{e.deletions}</span>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
});

const ExperimentDetail = memo(function ExperimentDetail({
  experimentId,
  live,
  ready,
}: {
  experimentId: string;
  live: LivePoint[] | undefined;
  ready: boolean;
}) {
  const trpc = useTRPC();
  const detail = useQuery(trpc.research.experiment.queryOptions({ experimentId }));
  const base = useQuery(pointsQuery(trpc, experimentId, ready));
  const series = useMemo(() => mergeSeries(base.data, live), [base.data, live]);
  const curveName = series.has("loss") ? "loss" : ([...series.keys()][0] ?? "loss");
  const e = detail.data;
  return (
    <Panel
      title={e ? `Experiment #${e.index} (${e.kind})` : "Experiment"}
      actions={e && <StatusBadge status={e.status} testId="detail-status" />}
    >
      <ErrorNote message={detail.error?.message} />
      {e && (
        <div className="space-y-3" data-testid="experiment-detail" data-experiment-id={e.id}>
          <dl className="grid grid-cols-2 gap-x-6 gap-y-2 text-sm md:grid-cols-5">
            <Meta label={e.loop.metric} value={formatMetric(e.metricValue)} mono />
            <Meta label="vs best" value={formatDelta(e.deltaVsBest)} mono />
            <Meta label="Commit" value={e.commitSha ? e.commitSha.slice(0, 10) : "—"} mono />
            <Meta label="Seed" value={String(e.seed ?? "—")} mono />
            <Meta label="Duration" value={e.durationMs === null ? "—" : formatDuration(e.durationMs)} />
          </dl>
          {e.description && <p className="text-sm text-gray-300">{e.description}</p>}
          {e.reason && <p className="text-sm text-gray-400">{e.reason}</p>}
          {e.params !== null && Object.keys(e.params as object).length > 0 && (
            <pre className="overflow-auto rounded-md bg-black/30 p-2 font-mono text-xs text-gray-300">
              {JSON.stringify(e.params, null, 2)}
            </pre>
          )}
          {series.size > 0 && (
            <CurveChart
              testId="experiment-curve"
              name={curveName}
              height={200}
              series={[{ key: e.id, label: curveName, color: COLORS[1]!, points: series.get(curveName) ?? [] }]}
            />
          )}
          <PatchView
            patch={e.diff}
            emptyText={
              e.kind === "candidate"
                ? "This experiment changed no files."
                : "A baseline or re-run measures the code as it is; it has no diff."
            }
          />
          {e.logTail && (
            <details>
              <summary className="cursor-pointer text-xs text-gray-400">Log tail</summary>
              <pre className="mt-2 max-h-64 overflow-auto rounded-md bg-black/40 p-3 font-mono text-xs leading-5 text-gray-300">
                {e.logTail}
              </pre>
            </details>
          )}
        </div>
      )}
    </Panel>
  );
});

function ExportButton({ loopId }: { loopId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <button
        type="button"
        className="rounded-md border border-white/15 px-3 py-1.5 text-sm text-gray-200 hover:bg-white/5"
        onClick={async () => {
          try {
            const { filename, tsv } = await queryClient.fetchQuery(trpc.research.exportTsv.queryOptions({ loopId }));
            const url = URL.createObjectURL(new Blob([tsv], { type: "text/tab-separated-values" }));
            const a = Object.assign(document.createElement("a"), { href: url, download: filename });
            a.click();
            URL.revokeObjectURL(url);
          } catch (e) {
            setError((e as Error).message);
          }
        }}
      >
        Export results.tsv
      </button>
      {error && <span className="text-xs text-red-300">{error}</span>}
    </>
  );
}

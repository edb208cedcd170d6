import { formatDuration } from "@loopy/config/duration";
import { useQueries, useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { Panel } from "~/components/ui/panel";
import { Select } from "~/components/ui/select";
import { useTRPC } from "~/trpc/client";
import { CurveChart, type CurveSeries } from "./charts";
import { type LivePoint, mergeSeries, pickSeries, pointsQuery, SERIES_COLORS } from "./live-series";

/** The experiment in progress: its curve as it is logged, its time against the budget, its log tail. */
export function RunningExperiment(props: {
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
  const name = pickSeries(names, chosen);
  return (
    <Panel
      title={`Running: experiment #${props.index} (${props.kind})`}
      actions={names.length > 1 && <SeriesSelect label="Series" names={names} value={name} onChange={setChosen} />}
    >
      <div className="space-y-3" data-testid="running-experiment" data-experiment-id={props.experimentId}>
        {props.description && <p className="text-sm text-gray-300">{props.description}</p>}
        <BudgetBar startedAt={props.startedAt} budgetMs={props.budgetMs} hardKillMultiple={props.hardKillMultiple} />
        <CurveChart
          testId="live-curve"
          name={name}
          series={[{ key: props.experimentId, label: name, color: SERIES_COLORS[0]!, points: series.get(name) ?? [] }]}
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

function SeriesSelect({
  label,
  names,
  value,
  onChange,
}: {
  label: string;
  names: string[];
  value: string;
  onChange: (name: string) => void;
}) {
  return (
    <Select compact aria-label={label} value={value} onChange={(e) => onChange(e.target.value)}>
      {names.map((n) => (
        <option key={n}>{n}</option>
      ))}
    </Select>
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

/** Several experiments' curves of one series on one chart (at most one per series colour). */
export function CurveOverlay({
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
  const shown = ids.slice(0, SERIES_COLORS.length);
  const bases = useQueries({ queries: shown.map((id) => pointsQuery(trpc, id, ready)) });
  const seriesList = shown.map((id, i) => ({ id, series: mergeSeries(bases[i]?.data, live[id]) }));
  const names = [...new Set(seriesList.flatMap((s) => [...s.series.keys()]))];
  const [chosen, setChosen] = useState<string | null>(null);
  const name = pickSeries(names, chosen);
  const series: CurveSeries[] = seriesList.map((s, i) => ({
    key: s.id,
    label: labels[s.id] ?? s.id,
    color: SERIES_COLORS[i % SERIES_COLORS.length]!,
    points: s.series.get(name) ?? [],
  }));
  return (
    <div className="space-y-2">
      {names.length > 1 && <SeriesSelect label="Overlay series" names={names} value={name} onChange={setChosen} />}
      <CurveChart testId="overlay-curve" name={name} series={series} />
    </div>
  );
}

"use client";

import { memo } from "react";
import {
  CartesianGrid,
  ComposedChart,
  LabelList,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Scatter,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { formatMetric } from "./format";

export interface ProgressPoint {
  id: string;
  index: number;
  status: string;
  kind: string;
  metric: number | null;
  best: number | null;
  description: string | null;
}

const POINT_STYLE: Record<string, { fill: string; label: string }> = {
  keep: { fill: "var(--color-chart-keep)", label: "kept" },
  discard: { fill: "var(--color-chart-discard)", label: "discarded" },
  flagged: { fill: "var(--color-chart-flagged)", label: "within noise" },
  crash: { fill: "var(--color-chart-crash)", label: "crashed" },
  timeout: { fill: "var(--color-chart-timeout)", label: "timed out" },
};

const axis = { stroke: "var(--color-chart-axis)", fontSize: 11 } as const;

/**
 * autoresearch's progression chart: every experiment a point (kept, discarded,
 * within noise, crashed), the running best as a step line, kept points
 * labelled. Crashed experiments have no metric; they sit on the worst edge.
 * Clicking a point selects that experiment.
 */
export const ProgressionChart = memo(function ProgressionChart({
  points,
  direction,
  metric,
  selected,
  onSelect,
}: {
  points: ProgressPoint[];
  direction: string;
  metric: string;
  selected: string | null;
  onSelect: (id: string) => void;
}) {
  // Finished baselines and candidates are points; noise and confirm re-runs are in the table, the running one in its panel.
  points = points.filter((p) => p.status in POINT_STYLE && (p.kind === "baseline" || p.kind === "candidate"));
  const values = points.flatMap((p) => (p.metric !== null ? [p.metric] : []));
  if (values.length === 0 && points.length === 0)
    return (
      <p className="py-10 text-center text-sm text-gray-500">The first experiment (the baseline) is on its way.</p>
    );
  const lo = values.length ? Math.min(...values) : 0;
  const hi = values.length ? Math.max(...values) : 1;
  const pad = (hi - lo || Math.abs(hi) || 1) * 0.08;
  const domain: [number, number] = [lo - pad, hi + pad];
  const worst = direction === "min" ? domain[1] : domain[0];
  const data = points.map((p) => ({
    ...p,
    y: p.metric ?? worst,
    label: p.status === "keep" && p.kind === "candidate" ? truncate(p.description ?? "", 28) : "",
  }));
  const groups = Object.keys(POINT_STYLE).map((status) => ({ status, data: data.filter((d) => d.status === status) }));
  const best = data.filter((d) => d.best !== null).map((d) => ({ index: d.index, best: d.best }));

  return (
    <div data-testid="progression-chart" data-points={points.length} className="h-80 w-full">
      <ResponsiveContainer width="100%" height="100%">
        <ComposedChart margin={{ top: 20, right: 90, bottom: 8, left: 8 }}>
          <CartesianGrid stroke="var(--color-chart-grid)" />
          <XAxis
            type="number"
            dataKey="index"
            domain={[0, Math.max(1, ...points.map((p) => p.index))]}
            allowDecimals={false}
            tick={axis}
            stroke={axis.stroke}
            label={{
              value: "experiment",
              position: "insideBottomRight",
              offset: -4,
              fill: "var(--color-chart-axis)",
              fontSize: 11,
            }}
          />
          <YAxis
            type="number"
            dataKey="y"
            domain={domain}
            tick={axis}
            stroke={axis.stroke}
            width={64}
            tickFormatter={(v: number) => formatMetric(v)}
            label={{
              value: `${metric} (${direction === "min" ? "lower" : "higher"} is better)`,
              angle: -90,
              position: "insideLeft",
              fill: "var(--color-chart-axis)",
              fontSize: 11,
              dy: 60,
            }}
          />
          <Tooltip content={<PointTooltip metric={metric} />} cursor={{ stroke: "var(--color-chart-cursor)" }} />
          <Legend wrapperStyle={{ fontSize: 11 }} />
          <Line
            data={best}
            dataKey="best"
            type="stepAfter"
            name="best so far"
            stroke="var(--color-chart-keep)"
            strokeOpacity={0.6}
            strokeWidth={1.5}
            dot={false}
            activeDot={false}
            isAnimationActive={false}
            legendType="line"
          />
          {groups.map(({ status, data: group }) =>
            group.length === 0 ? null : (
              <Scatter
                key={status}
                name={POINT_STYLE[status]!.label}
                data={group}
                fill={POINT_STYLE[status]!.fill}
                isAnimationActive={false}
                shape={(props: { cx?: number; cy?: number; payload?: ProgressPoint }) => (
                  <PointShape
                    cx={props.cx}
                    cy={props.cy}
                    point={props.payload}
                    fill={POINT_STYLE[status]!.fill}
                    selected={props.payload?.id === selected}
                    onSelect={onSelect}
                  />
                )}
              >
                {status === "keep" && (
                  <LabelList dataKey="label" position="top" fill="var(--color-chart-keep-label)" fontSize={10} />
                )}
              </Scatter>
            ),
          )}
        </ComposedChart>
      </ResponsiveContainer>
    </div>
  );
});

function PointShape({
  cx,
  cy,
  point,
  fill,
  selected,
  onSelect,
}: {
  cx?: number;
  cy?: number;
  point?: ProgressPoint;
  fill: string;
  selected: boolean;
  onSelect: (id: string) => void;
}) {
  if (cx === undefined || cy === undefined || !point) return null;
  const crashed = point.status === "crash" || point.status === "timeout";
  return (
    // biome-ignore lint/a11y/useSemanticElements: an SVG shape cannot be a <button>; the role, tabIndex and Enter/Space handler make it one.
    <g
      data-testid="progress-point"
      data-experiment-id={point.id}
      data-status={point.status}
      data-kind={point.kind}
      className="cursor-pointer"
      role="button"
      tabIndex={0}
      aria-label={`Experiment #${point.index}, ${POINT_STYLE[point.status]?.label ?? point.status}`}
      aria-pressed={selected}
      onClick={() => onSelect(point.id)}
      onKeyDown={(e) => {
        if (e.key !== "Enter" && e.key !== " ") return;
        e.preventDefault();
        onSelect(point.id);
      }}
    >
      {/* A larger transparent target makes small points easy to click. */}
      <circle cx={cx} cy={cy} r={9} fill="transparent" />
      {crashed ? (
        <path
          d={`M${cx - 4},${cy - 4}L${cx + 4},${cy + 4}M${cx - 4},${cy + 4}L${cx + 4},${cy - 4}`}
          stroke={fill}
          strokeWidth={2}
        />
      ) : (
        <circle
          cx={cx}
          cy={cy}
          r={point.status === "keep" ? 5 : 4}
          fill={fill}
          fillOpacity={point.status === "discard" ? 0.6 : 1}
        />
      )}
      {selected && <circle cx={cx} cy={cy} r={8} fill="none" stroke="var(--color-chart-selected)" strokeWidth={1.5} />}
    </g>
  );
}

function PointTooltip({
  active,
  payload,
  metric,
}: {
  active?: boolean;
  payload?: Array<{ payload?: ProgressPoint & { best?: number } }>;
  metric: string;
}) {
  const point = payload?.find((p) => p.payload && "status" in p.payload)?.payload;
  if (!active || !point) return null;
  return (
    <div className="max-w-xs rounded-md border border-white/10 bg-surface-raised px-3 py-2 text-xs text-gray-200 shadow-lg">
      <div className="font-mono">
        #{point.index} · {POINT_STYLE[point.status]?.label ?? point.status} · {point.kind}
      </div>
      <div className="font-mono text-white">
        {metric} {formatMetric(point.metric)}
      </div>
      {point.description && <div className="mt-1 text-gray-400">{point.description}</div>}
    </div>
  );
}

export interface CurveSeries {
  key: string;
  label: string;
  color: string;
  points: Array<{ x: number; y: number }>;
}

/** Per-step curves (loss against step) of one or more experiments, overlaid. */
export const CurveChart = memo(function CurveChart({
  series,
  name,
  height = 260,
  testId,
}: {
  series: CurveSeries[];
  name: string;
  height?: number;
  testId?: string;
}) {
  const total = series.reduce((n, s) => n + s.points.length, 0);
  return (
    <div data-testid={testId} data-points={total} className="w-full" style={{ height }}>
      {total === 0 ? (
        <p className="flex h-full items-center justify-center text-sm text-gray-500">No step lines yet.</p>
      ) : (
        <ResponsiveContainer width="100%" height="100%">
          <LineChart margin={{ top: 10, right: 24, bottom: 8, left: 8 }}>
            <CartesianGrid stroke="var(--color-chart-grid)" />
            <XAxis
              type="number"
              dataKey="x"
              domain={["dataMin", "dataMax"]}
              tick={axis}
              stroke={axis.stroke}
              allowDuplicatedCategory={false}
            />
            <YAxis
              type="number"
              domain={["auto", "auto"]}
              tick={axis}
              stroke={axis.stroke}
              width={64}
              tickFormatter={(v: number) => formatMetric(v)}
            />
            <Tooltip
              contentStyle={{
                background: "var(--color-surface-raised)",
                border: "1px solid var(--color-chart-border)",
                fontSize: 12,
              }}
              labelFormatter={(step) => `step ${step}`}
              formatter={(value) => [formatMetric(Number(value)), name]}
            />
            {series.length > 1 && <Legend wrapperStyle={{ fontSize: 11 }} />}
            {series.map((s) => (
              <Line
                key={s.key}
                data={s.points}
                dataKey="y"
                name={s.label}
                stroke={s.color}
                dot={false}
                strokeWidth={1.5}
                isAnimationActive={false}
              />
            ))}
          </LineChart>
        </ResponsiveContainer>
      )}
    </div>
  );
});

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

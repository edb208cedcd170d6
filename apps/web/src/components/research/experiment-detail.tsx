import { formatDuration } from "@loopy/config/duration";
import { useQuery } from "@tanstack/react-query";
import { memo, useMemo } from "react";
import { StatusBadge } from "~/components/ui/badge";
import { ErrorNote, Meta } from "~/components/ui/field";
import { Panel } from "~/components/ui/panel";
import { useTRPC } from "~/trpc/client";
import { CurveChart } from "./charts";
import { formatDelta, formatMetric } from "./format";
import { type LivePoint, mergeSeries, pointsQuery, SERIES_COLORS } from "./live-series";
import { PatchView } from "./patch-view";

/** The selected experiment: its numbers, description, parameters, curve, diff and log tail. */
export const ExperimentDetail = memo(function ExperimentDetail({
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
              series={[{ key: e.id, label: curveName, color: SERIES_COLORS[1]!, points: series.get(curveName) ?? [] }]}
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

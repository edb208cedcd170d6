"use client";

import { useQuery } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useCallback, useMemo, useState } from "react";
import { toggled } from "~/components/review/diff/diff-lines";
import { PageError } from "~/components/ui/field";
import { Panel } from "~/components/ui/panel";
import { useTRPC } from "~/trpc/client";
import { ProgressionChart } from "./charts";
import { CurveOverlay, RunningExperiment } from "./curve-panels";
import { ExperimentDetail } from "./experiment-detail";
import { ExperimentsTable } from "./experiments-table";
import { LoopHeader, LoopSummary } from "./loop-header";
import { SlotTimeline } from "./slot-timeline";
import { useLoopLive } from "./use-loop-live";

/** The selected experiment; it is in the URL, so a link opens it. */
function useSelectedExperiment(loopId: string, initial: string | null) {
  const router = useRouter();
  const [selected, setSelectedState] = useState<string | null>(initial);
  const setSelected = useCallback(
    (id: string) => {
      setSelectedState(id);
      // Through the router (not history.replaceState), so a navigation still settling cannot put the old URL back.
      router.replace(`/research/${loopId}?experiment=${encodeURIComponent(id)}`, { scroll: false });
    },
    [loopId, router],
  );
  return [selected, setSelected] as const;
}

/**
 * A research loop, live: its state and best, the progression chart, the
 * running experiment (curves pushed as they are logged, log tail, progress
 * against its budget), an overlay of chosen experiments' curves, the table of
 * experiments, and the selected experiment's diff.
 */
export function LoopView({ loopId, initialExperiment = null }: { loopId: string; initialExperiment?: string | null }) {
  const trpc = useTRPC();
  const loop = useQuery(trpc.research.get.queryOptions({ loopId }));
  const experiments = useQuery(trpc.research.experiments.queryOptions({ loopId }));
  const [selected, setSelected] = useSelectedExperiment(loopId, initialExperiment);
  const [compare, setCompare] = useState<ReadonlySet<string>>(new Set());
  const stream = useLoopLive(loopId, !loop.error);
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
  const candidates = rows.filter((e) => e.kind === "candidate").length;
  const baseline = rows.find((e) => e.kind === "baseline" && e.metricValue !== null)?.metricValue ?? null;
  const overlay = [...new Set([...(running ? [running.id] : []), ...(best ? [best] : []), ...compare])];
  const { live, ready } = stream;

  return (
    <div className="space-y-5">
      <LoopHeader loop={l} streamStatus={stream.status} onChanged={stream.refetchLoop} />
      <LoopSummary
        loop={l}
        baseline={baseline}
        candidates={candidates}
        kept={rows.filter((e) => e.status === "keep" && e.kind === "candidate").length}
        total={rows.length}
      />
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
          ready={ready}
        />
      )}
      <Panel
        title="Curves"
        actions={
          <span className="text-xs text-gray-500">the running experiment, the best, and any you tick below</span>
        }
      >
        <CurveOverlay ids={overlay} live={live} ready={ready} labels={labels} />
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
      {focus && <ExperimentDetail experimentId={focus} live={live[focus]} ready={ready} />}
      {(l.slots as string[]).length > 0 && <SlotTimeline project={l.project.id} />}
    </div>
  );
}

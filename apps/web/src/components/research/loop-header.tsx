import { formatDuration } from "@loopy/config/duration";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Elapsed, formatTime } from "~/components/shared/elapsed";
import { StatusBadge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { ErrorNote, Meta } from "~/components/ui/field";
import { surfaceClass } from "~/components/ui/panel";
import { type RouterOutputs, useTRPC } from "~/trpc/client";
import { formatDelta, formatMetric } from "./format";

type Loop = RouterOutputs["research"]["get"];

/** The loop's name, state and command; export, pause or resume, stop. */
export function LoopHeader({
  loop: l,
  streamStatus,
  onChanged,
}: {
  loop: Loop;
  streamStatus: string;
  onChanged: () => void;
}) {
  const trpc = useTRPC();
  const loopId = l.id;
  const cancel = useMutation(trpc.research.cancel.mutationOptions({ onSuccess: onChanged }));
  const pause = useMutation(trpc.research.pause.mutationOptions({ onSuccess: onChanged }));
  const resume = useMutation(trpc.research.resume.mutationOptions({ onSuccess: onChanged }));
  const active = l.status === "running" || l.status === "queued";
  return (
    <>
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div className="space-y-1">
          <div className="flex items-center gap-3">
            <h1 className="text-lg text-white">{l.name}</h1>
            <StatusBadge status={l.status} testId="loop-status" />
            <span className="text-xs text-gray-500" data-testid="stream-state">
              {streamStatus === "pending" ? "live" : streamStatus}
            </span>
          </div>
          <p className="font-mono text-sm text-gray-400">$ {l.command}</p>
        </div>
        <div className="flex items-center gap-2">
          <ExportButton loopId={loopId} />
          {active && (
            <Button
              tone="secondary"
              onClick={() => pause.mutate({ loopId })}
              disabled={pause.isPending}
              title="The experiment in progress finishes; no new one starts until you resume"
            >
              Pause
            </Button>
          )}
          {l.status === "paused" && (
            <Button tone="secondary" onClick={() => resume.mutate({ loopId })} disabled={resume.isPending}>
              Resume
            </Button>
          )}
          {(active || l.status === "paused") && (
            <Button tone="danger" onClick={() => cancel.mutate({ loopId })} disabled={cancel.isPending}>
              {cancel.isPending ? "Stopping…" : "Stop loop"}
            </Button>
          )}
        </div>
      </div>
      <ErrorNote message={cancel.error?.message ?? pause.error?.message ?? resume.error?.message} />
      {l.statusReason && (
        <p className="rounded-md border border-white/10 bg-white/5 px-3 py-2 text-sm text-gray-200">{l.statusReason}</p>
      )}
    </>
  );
}

/** The loop's facts: project, proposer, metric, best and its gain over the baseline, counts, budget, times. */
export function LoopSummary({
  loop: l,
  baseline,
  candidates,
  kept,
  total,
}: {
  loop: Loop;
  baseline: number | null;
  candidates: number;
  kept: number;
  total: number;
}) {
  const gain =
    baseline !== null && l.bestMetric !== null
      ? formatDelta((l.direction === "min" ? -1 : 1) * (l.bestMetric - baseline))
      : "—";
  return (
    <dl className={`${surfaceClass} grid grid-cols-2 gap-x-6 gap-y-2 p-4 text-sm md:grid-cols-6`}>
      <Meta label="Project" value={l.project.name} />
      <Meta
        label="Proposer"
        value={l.agentProfile ? `${l.agentProfile.name} (${l.agentProfile.adapter})` : l.proposer}
      />
      <Meta label="Metric" value={`${l.metric} (${l.direction === "min" ? "lower" : "higher"} is better)`} mono />
      <Meta label="Best" value={<span data-testid="loop-best">{formatMetric(l.bestMetric)}</span>} mono />
      <Meta label="From baseline" value={gain} mono />
      <Meta label="Noise floor" value={l.noiseFloor === null ? "measuring…" : `± ${formatMetric(l.noiseFloor)}`} mono />
      <Meta
        label="Candidates"
        value={
          <span data-testid="loop-count">{`${candidates}${l.maxExperiments ? ` of ${l.maxExperiments}` : ""}`}</span>
        }
      />
      <Meta label="Kept" value={`${kept} (+${total - candidates} baseline and re-runs)`} />
      <Meta label="Budget" value={`${formatDuration(l.budgetMs)} (killed at ×${l.hardKillMultiple})`} />
      <Meta label="Branch" value={l.branch} mono />
      <Meta label="Started" value={formatTime(l.startedAt)} />
      <Meta label="Duration" value={<Elapsed startedAt={l.startedAt} finishedAt={l.finishedAt} />} />
    </dl>
  );
}

function ExportButton({ loopId }: { loopId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const download = async () => {
    try {
      const { filename, tsv } = await queryClient.fetchQuery(trpc.research.exportTsv.queryOptions({ loopId }));
      const url = URL.createObjectURL(new Blob([tsv], { type: "text/tab-separated-values" }));
      const a = Object.assign(document.createElement("a"), { href: url, download: filename });
      a.click();
      URL.revokeObjectURL(url);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <>
      <Button tone="secondary" onClick={() => void download()}>
        Export results.tsv
      </Button>
      {error && <span className="text-xs text-red-300">{error}</span>}
    </>
  );
}

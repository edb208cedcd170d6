import { formatDuration } from "@loopy/config/duration";
import { memo } from "react";
import { ChangeCount } from "~/components/review/diff/file-tree";
import { StatusBadge } from "~/components/ui/badge";
import { rowClass, rowTargetClass, Table, TBody, Th, THead } from "~/components/ui/table";
import { formatDelta, formatMetric } from "./format";

export type ExperimentRow = {
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

/**
 * Every experiment, newest first. A row opens its experiment: a click anywhere on it, or Tab to its
 * number (a button) and Enter. The checkbox adds its curves to the overlay.
 */
export const ExperimentsTable = memo(function ExperimentsTable({
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
      <Table testId="experiments-table">
        <THead sticky>
          <Th last className="pr-2" title="Overlay its curves">
            ⇄
          </Th>
          <Th>#</Th>
          <Th>Status</Th>
          <Th>Kind</Th>
          <Th right>Metric</Th>
          <Th right>vs best</Th>
          <Th right>Duration</Th>
          <Th>Description</Th>
          <Th right last>
            Diff
          </Th>
        </THead>
        <TBody>
          {[...rows].reverse().map((e) => (
            <tr
              key={e.id}
              data-experiment-id={e.id}
              className={`${rowClass} cursor-pointer hover:bg-white/5 ${focus === e.id ? "bg-sky-500/10" : ""}`}
            >
              <td className="relative z-10 py-1.5 pr-2">
                <input
                  type="checkbox"
                  aria-label={`Overlay experiment ${e.index}`}
                  checked={compare.has(e.id)}
                  onChange={() => onCompare(e.id)}
                />
              </td>
              <td className="py-1.5 pr-3 font-mono text-xs text-gray-400">
                <button
                  type="button"
                  aria-label={`Open experiment ${e.index}`}
                  className={rowTargetClass}
                  onClick={() => onSelect(e.id)}
                >
                  {e.index}
                </button>
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
                  <ChangeCount additions={e.additions} deletions={e.deletions ?? 0} />
                )}
              </td>
            </tr>
          ))}
        </TBody>
      </Table>
    </div>
  );
});

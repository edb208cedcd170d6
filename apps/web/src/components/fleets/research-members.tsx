"use client";

import Link from "next/link";
import type { FleetView } from "@loopy/core/fleets/fleets";
import { Panel } from "~/components/ui/field";
import { StatusBadge } from "~/components/ui/badge";

/** A research fleet's loops, best first once they have a metric: proposer, seed, state, best value, experiments, cost. */
export function ResearchMembers({ loops }: { loops: FleetView["loops"] }) {
  const sorted = [...loops].sort(
    (a, b) => (a.rank ?? 1e9) - (b.rank ?? 1e9) || (a.memberIndex ?? 0) - (b.memberIndex ?? 0),
  );
  return (
    <Panel
      title="Loops"
      actions={
        <span className="text-xs text-gray-500">
          ranked by best {loops[0]?.metric ?? "metric"} ({loops[0]?.direction === "max" ? "higher" : "lower"} is better)
        </span>
      }
    >
      <table className="w-full text-left text-sm" data-testid="research-members">
        <thead className="text-xs uppercase tracking-wide text-gray-500">
          <tr>
            <th className="py-2 pr-3 font-medium">Rank</th>
            <th className="py-2 pr-3 font-medium">#</th>
            <th className="py-2 pr-3 font-medium">Loop</th>
            <th className="py-2 pr-3 font-medium">Proposer</th>
            <th className="py-2 pr-3 font-medium">Seed</th>
            <th className="py-2 pr-3 font-medium">State</th>
            <th className="py-2 pr-3 text-right font-medium">Best</th>
            <th className="py-2 pr-3 text-right font-medium">Experiments</th>
            <th className="py-2 text-right font-medium">Cost</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-white/5">
          {sorted.map((l) => (
            <tr key={l.id} data-testid="research-member" data-loop-id={l.id} data-rank={l.rank ?? ""}>
              <td className="py-1.5 pr-3 font-mono text-xs text-gray-200">{l.rank ?? "—"}</td>
              <td className="py-1.5 pr-3 font-mono text-xs text-gray-400">{l.memberIndex}</td>
              <td className="py-1.5 pr-3">
                <Link href={`/research/${l.id}`} className="font-mono text-xs text-sky-300 hover:underline">
                  {l.id}
                </Link>
              </td>
              <td className="py-1.5 pr-3 text-xs text-gray-300">{l.proposer}</td>
              <td className="py-1.5 pr-3 font-mono text-xs text-gray-400">{l.seed}</td>
              <td className="py-1.5 pr-3" title={l.statusReason ?? undefined}>
                <StatusBadge status={l.status} testId="loop-status" />
              </td>
              <td className="py-1.5 pr-3 text-right font-mono text-xs text-gray-100">
                {l.bestMetric === null ? "—" : l.bestMetric.toPrecision(5)}
              </td>
              <td className="py-1.5 pr-3 text-right font-mono text-xs text-gray-300">{l.experiments}</td>
              <td className="py-1.5 text-right font-mono text-xs text-gray-300">
                {l.costUsd ? `$${l.costUsd.toFixed(4)}` : "—"}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Panel>
  );
}

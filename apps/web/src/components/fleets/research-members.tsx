"use client";

import Link from "next/link";
import type { FleetView } from "@loopy/core/fleets";
import { Panel } from "~/components/ui/panel";
import { StatusBadge } from "~/components/ui/badge";
import { Table, THead, Th, TBody } from "~/components/ui/table";

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
      <Table testId="research-members">
        <THead>
          <Th>Rank</Th>
          <Th>#</Th>
          <Th>Loop</Th>
          <Th>Proposer</Th>
          <Th>Seed</Th>
          <Th>State</Th>
          <Th right>Best</Th>
          <Th right>Experiments</Th>
          <Th right last>
            Cost
          </Th>
        </THead>
        <TBody>
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
        </TBody>
      </Table>
    </Panel>
  );
}

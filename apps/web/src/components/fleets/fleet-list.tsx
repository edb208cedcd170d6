"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useTRPC } from "~/trpc/client";
import { Elapsed, formatTime } from "~/components/shared/elapsed";
import { Panel } from "~/components/ui/panel";
import { StatusBadge } from "~/components/ui/badge";
import { ProgressBar } from "./progress-bar";
import { useFleetChanges } from "./use-fleet-changes";
import { Table, THead, Th, TBody } from "~/components/ui/table";

/** Every fleet, newest first, with its progress; refreshed when fleets or runs change. */
export function FleetList() {
  const trpc = useTRPC();
  const fleets = useQuery(trpc.fleets.list.queryOptions());
  useFleetChanges();
  const rows = fleets.data?.fleets ?? [];
  return (
    <Panel title="Fleets" actions={<span className="text-xs text-gray-500">live</span>}>
      {fleets.error && <p className="text-sm text-red-300">{fleets.error.message}</p>}
      {fleets.data && rows.length === 0 && <p className="text-sm text-gray-400">No fleets yet. Launch one above.</p>}
      {rows.length > 0 && (
        <Table testId="fleets-table">
          <THead>
            <Th>Fleet</Th>
            <Th>State</Th>
            <Th>Kind</Th>
            <th className="w-64 py-2 pr-3 font-medium">Progress</th>
            <Th>Cost</Th>
            <Th>Started</Th>
            <Th last>Duration</Th>
          </THead>
          <TBody>
            {rows.map((f) => (
              <tr key={f.id} data-fleet-id={f.id}>
                <td className="py-2 pr-3">
                  <Link href={`/fleets/${f.id}`} className="text-sky-300 hover:underline">
                    {f.name}
                  </Link>
                </td>
                <td className="py-2 pr-3">
                  <StatusBadge status={f.status} testId="fleet-status" />
                </td>
                <td className="py-2 pr-3 text-gray-300">
                  {f.kind === "best_of_n" ? `best of ${f.progress.total}` : f.kind}
                </td>
                <td className="py-2 pr-3">
                  <ProgressBar finished={f.progress.finished} total={f.progress.total} />
                </td>
                <td className="py-2 pr-3 font-mono text-xs text-gray-300">
                  {f.spent.usd ? `$${f.spent.usd.toFixed(4)}` : "—"}
                </td>
                <td className="py-2 pr-3 text-gray-400">{formatTime(f.createdAt)}</td>
                <td className="py-2 text-gray-400">
                  <Elapsed startedAt={f.createdAt} finishedAt={f.finishedAt} />
                </td>
              </tr>
            ))}
          </TBody>
        </Table>
      )}
    </Panel>
  );
}

"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import Link from "next/link";
import { useRef } from "react";
import { useTRPC } from "~/trpc/client";
import { Elapsed, formatTime } from "~/components/shared/elapsed";
import { Panel } from "~/components/ui/panel";
import { StatusBadge } from "~/components/ui/badge";
import { formatMetric } from "./format";
import { Table, THead, Th, TBody } from "~/components/ui/table";

/** Every research loop, newest first; refreshed when any loop changes (pushed, no polling). */
export function LoopList() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const loops = useQuery(trpc.research.list.queryOptions());
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useSubscription(
    trpc.research.changes.subscriptionOptions(undefined, {
      onData: () => {
        if (timer.current) return;
        timer.current = setTimeout(() => {
          timer.current = undefined;
          void queryClient.invalidateQueries({ queryKey: trpc.research.list.queryKey() });
        }, 250);
      },
    }),
  );

  return (
    <Panel title="Research loops" actions={<span className="text-xs text-gray-500">live</span>}>
      {loops.error && <p className="text-sm text-red-300">{loops.error.message}</p>}
      {loops.data && loops.data.length === 0 && <p className="text-sm text-gray-400">No loops yet. Start one above.</p>}
      {loops.data && loops.data.length > 0 && (
        <Table testId="loops-table">
          <THead>
            <Th>Loop</Th>
            <Th>State</Th>
            <Th>Project</Th>
            <Th>Proposer</Th>
            <Th>Experiments</Th>
            <Th>Best</Th>
            <Th>Started</Th>
            <Th last>Duration</Th>
          </THead>
          <TBody>
            {loops.data.map((loop) => (
              <tr key={loop.id} data-loop-id={loop.id}>
                <td className="py-2 pr-3">
                  <Link href={`/research/${loop.id}`} className="text-sky-300 hover:underline">
                    {loop.name}
                  </Link>
                </td>
                <td className="py-2 pr-3">
                  <StatusBadge status={loop.status} testId="loop-status" />
                </td>
                <td className="py-2 pr-3 text-gray-300">{loop.project.name}</td>
                <td className="py-2 pr-3 text-gray-300">
                  {loop.agentProfile ? loop.agentProfile.name : loop.proposer}
                </td>
                <td className="py-2 pr-3 font-mono text-xs text-gray-300">
                  {loop.counts.total} · <span className="text-emerald-300">{loop.counts.keep} kept</span>
                  {loop.counts.crash + loop.counts.timeout > 0 && (
                    <span className="text-red-300"> · {loop.counts.crash + loop.counts.timeout} crashed</span>
                  )}
                </td>
                <td className="py-2 pr-3 font-mono text-xs text-gray-200">
                  {loop.bestMetric === null ? "—" : `${loop.metric} ${formatMetric(loop.bestMetric)}`}
                </td>
                <td className="py-2 pr-3 text-gray-400">{formatTime(loop.startedAt)}</td>
                <td className="py-2 text-gray-400">
                  <Elapsed startedAt={loop.startedAt} finishedAt={loop.finishedAt} />
                </td>
              </tr>
            ))}
          </TBody>
        </Table>
      )}
    </Panel>
  );
}

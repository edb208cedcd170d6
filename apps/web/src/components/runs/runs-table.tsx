"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useTRPC } from "~/trpc/client";
import { formatTime } from "~/components/shared/elapsed";
import { Panel } from "~/components/ui/panel";
import { RunTimesText } from "./run-times";
import { StatusBadge } from "~/components/ui/badge";
import { Table, THead, Th, TBody } from "~/components/ui/table";

export function RunsTable() {
  const trpc = useTRPC();
  const runs = useQuery(trpc.runs.list.queryOptions({ limit: 200 }));

  return (
    <Panel title="Runs" actions={<span className="text-xs text-gray-500">live</span>}>
      {runs.error && <p className="text-sm text-red-300">{runs.error.message}</p>}
      {runs.data && runs.data.runs.length === 0 && (
        <p className="text-sm text-gray-400">No runs yet. Launch one above.</p>
      )}
      {runs.data && runs.data.runs.length > 0 && (
        <Table testId="runs-table">
          <THead>
            <Th>Run</Th>
            <Th>State</Th>
            <Th>Project</Th>
            <Th>Agent</Th>
            <Th>Task</Th>
            <Th>Started</Th>
            <Th>Time</Th>
            <Th right last>
              Diff
            </Th>
          </THead>
          <TBody>
            {runs.data.runs.map((run) => (
              <tr key={run.id} data-run-id={run.id} className="hover:bg-white/[0.03]">
                <td className="py-2 pr-3 font-mono text-xs">
                  <Link href={`/runs/${run.id}`} className="text-sky-300 hover:underline">
                    {run.id}
                  </Link>
                </td>
                <td className="py-2 pr-3">
                  <StatusBadge status={run.status} />
                </td>
                <td className="py-2 pr-3 text-gray-300">{run.project.name}</td>
                <td className="py-2 pr-3 text-gray-400">{run.agent}</td>
                <td className="max-w-xs truncate py-2 pr-3 font-mono text-xs text-gray-300" title={run.task.prompt}>
                  {run.task.title}
                </td>
                <td className="py-2 pr-3 text-gray-400">{formatTime(run.startedAt)}</td>
                <td className="py-2 pr-3 text-xs text-gray-300">
                  <RunTimesText times={run.times} />
                </td>
                <td className="py-2 text-right font-mono text-xs">
                  {run.additions !== null && <span className="text-emerald-400">+{run.additions}</span>}{" "}
                  {run.deletions !== null && <span className="text-red-400">−{run.deletions}</span>}
                </td>
              </tr>
            ))}
          </TBody>
        </Table>
      )}
    </Panel>
  );
}

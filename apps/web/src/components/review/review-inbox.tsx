"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useMemo, useState } from "react";
import { useTRPC } from "~/trpc/client";
import { Panel } from "~/components/ui/panel";
import { ENTER, ESCAPE, KeyHelp, useKeys, useToggle } from "~/components/shared/keyboard";
import { RunTimesText } from "~/components/runs/run-times";
import { StatusBadge } from "~/components/ui/badge";
import { Table, THead, Th, TBody } from "~/components/ui/table";

/** Every run waiting for a human, across projects: green checks first, then oldest first. */
export function ReviewInbox() {
  const trpc = useTRPC();
  const router = useRouter();
  const inbox = useQuery(trpc.review.inbox.queryOptions());
  const [selected, setSelected] = useState(0);
  const [help, toggleHelp, setHelp] = useToggle();
  const runs = inbox.data ?? [];
  const keys = useMemo(
    () => ({
      j: () => setSelected((i) => Math.min(i + 1, Math.max(runs.length - 1, 0))),
      k: () => setSelected((i) => Math.max(i - 1, 0)),
      [ENTER]: () => runs[selected] && router.push(`/runs/${runs[selected].id}`),
      o: () => runs[selected] && router.push(`/runs/${runs[selected].id}`),
      "?": toggleHelp,
      [ESCAPE]: () => setHelp(false),
    }),
    [runs, selected, router, toggleHelp, setHelp],
  );
  useKeys(keys);

  return (
    <Panel
      title="Review inbox"
      actions={<span className="text-xs text-gray-500">j/k to move, Enter to open, ? for keys</span>}
    >
      <KeyHelp open={help} onClose={() => setHelp(false)} />
      {inbox.data && runs.length === 0 && (
        <p className="text-sm text-gray-400">Nothing waits for review. Runs land here when their checks pass.</p>
      )}
      {runs.length > 0 && (
        <Table testId="inbox">
          <THead>
            <Th>Run</Th>
            <Th>State</Th>
            <Th>Checks</Th>
            <Th>Task</Th>
            <Th>Project</Th>
            <Th>Agent</Th>
            <Th right>Diff</Th>
            <Th right>Cost</Th>
            <Th right last>
              Time
            </Th>
          </THead>
          <TBody>
            {runs.map((run, i) => (
              <tr
                key={run.id}
                data-run-id={run.id}
                className={i === selected ? "bg-white/[0.06]" : "hover:bg-white/[0.03]"}
                onMouseEnter={() => setSelected(i)}
              >
                <td className="py-2 pr-3 font-mono text-xs">
                  <Link href={`/runs/${run.id}`} className="text-sky-300 hover:underline">
                    {run.id}
                  </Link>
                </td>
                <td className="py-2 pr-3">
                  <StatusBadge status={run.status} />
                </td>
                <td className="py-2 pr-3 text-xs">
                  {run.checksPassed === null ? (
                    <span className="text-gray-500">none</span>
                  ) : run.checksPassed ? (
                    <span className="text-emerald-400">✓ green</span>
                  ) : (
                    <span className="text-red-400">✗ failing</span>
                  )}
                </td>
                <td className="max-w-xs truncate py-2 pr-3 text-gray-200" title={run.statusReason ?? run.task.prompt}>
                  {run.task.title}
                  {run.status === "needs_attention" && run.statusReason && (
                    <div className="truncate text-xs text-orange-300">{run.statusReason}</div>
                  )}
                </td>
                <td className="py-2 pr-3 text-gray-300">{run.project.name}</td>
                <td className="py-2 pr-3 text-gray-400">{run.task.agentProfile?.name ?? run.agent}</td>
                <td className="py-2 pr-3 text-right font-mono text-xs">
                  <span className="text-emerald-400">+{run.additions ?? 0}</span>{" "}
                  <span className="text-red-400">−{run.deletions ?? 0}</span>
                </td>
                <td className="py-2 pr-3 text-right text-xs text-gray-300">
                  {run.costUsd ? `$${run.costUsd.toFixed(4)}` : "—"}
                </td>
                <td className="py-2 text-right text-xs text-gray-400">
                  <RunTimesText times={run.times} />
                </td>
              </tr>
            ))}
          </TBody>
        </Table>
      )}
    </Panel>
  );
}

"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { formatDuration } from "@loopy/config/duration";
import { useTRPC } from "~/trpc/client";
import { Elapsed } from "~/components/shared/elapsed";
import { ConfirmDialog } from "~/components/ui/dialog";
import { ErrorNote, Meta, PageError } from "~/components/ui/field";
import { Panel, surfaceClass } from "~/components/ui/panel";
import { PatchView } from "~/components/research/patch-view";
import { StatusBadge } from "~/components/ui/badge";
import { ProgressBar } from "./progress-bar";
import { useFleetChanges } from "./use-fleet-changes";
import { DagGraph } from "./dag-graph";
import { ResearchMembers } from "./research-members";
import { Button } from "~/components/ui/button";
import { Table, THead, Th, TBody } from "~/components/ui/table";

const ACTIVE = new Set(["running", "paused"]);

/**
 * A fleet live: progress, spend against budget, pause / resume / cancel, every
 * member with its state, checks, diff size, cost, metric and (best of N) rank;
 * the leaders' diffs side by side and one action that approves the winner and
 * rejects the rest, after a confirmation naming the member, the target branch
 * and how many are rejected; then the fleet says where the winner merged.
 */
export function FleetView({ fleetId }: { fleetId: string }) {
  const trpc = useTRPC();
  const fleet = useQuery(trpc.fleets.get.queryOptions({ fleetId }));
  useFleetChanges();
  const refetch = () => void fleet.refetch();
  const pause = useMutation(trpc.fleets.pause.mutationOptions({ onSuccess: refetch }));
  const resume = useMutation(trpc.fleets.resume.mutationOptions({ onSuccess: refetch }));
  const cancel = useMutation(trpc.fleets.cancel.mutationOptions({ onSuccess: refetch }));
  const approve = useMutation(trpc.fleets.approveWinner.mutationOptions({ onSuccess: refetch }));
  const [confirming, setConfirming] = useState(false);

  if (fleet.error)
    return <PageError message={fleet.error.message} back={{ href: "/fleets", label: "Back to fleets" }} />;
  if (!fleet.data) return <p className="text-sm text-gray-400">Loading fleet…</p>;
  const f = fleet.data;
  const bestOfN = f.kind === "best_of_n";
  const members = bestOfN ? [...f.members].sort((a, b) => (a.rank ?? 1e9) - (b.rank ?? 1e9)) : f.members;
  const busy = f.members.some((m) => m.status === "queued" || m.status === "running" || m.status === "verifying");
  const winner = members.find((m) => m.eligible);
  const merged = bestOfN ? f.members.find((m) => m.status === "merged" && m.mergedSha) : undefined;
  const losers = winner
    ? f.members.filter((m) => m.id !== winner.id && (m.status === "awaiting_review" || m.status === "needs_attention"))
        .length
    : 0;
  const leaders = members.filter((m) => m.diffLines !== null).slice(0, 3);
  const mutationError =
    pause.error?.message ?? resume.error?.message ?? cancel.error?.message ?? approve.error?.message;

  return (
    <div className="space-y-5">
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div className="space-y-1">
          <div className="flex items-center gap-3">
            <h1 className="text-lg text-white">{f.name}</h1>
            <StatusBadge status={f.status} testId="fleet-status" />
          </div>
          <p className="text-sm text-gray-400">
            {bestOfN
              ? `Best of ${f.members.length}: one task, ranked when every member is done`
              : f.kind === "dag"
                ? `${f.members.length} subtasks: each starts once the ones it depends on are approved`
                : f.kind === "research"
                  ? `${f.loops.length} research loops on one experiment, seeds and proposers varied`
                  : `Batch of ${f.members.length}`}
          </p>
        </div>
        <div className="flex items-center gap-2">
          {f.status === "running" && (
            <Button tone="secondary" onClick={() => pause.mutate({ fleetId })}>
              Pause
            </Button>
          )}
          {f.status === "paused" && (
            <Button tone="secondary" onClick={() => resume.mutate({ fleetId })}>
              Resume
            </Button>
          )}
          {ACTIVE.has(f.status) && (
            <Button
              tone="danger"
              onClick={() =>
                window.confirm("Cancel the fleet? Running members are killed and their worktrees removed.") &&
                cancel.mutate({ fleetId })
              }
            >
              Cancel fleet
            </Button>
          )}
        </div>
      </div>
      <ErrorNote message={mutationError} />
      {confirming && winner && (
        <ConfirmDialog
          testId="approve-winner-confirm"
          title={`Merge member #${winner.memberIndex} (${winner.id}) into ${winner.project.defaultBranch}?`}
          onCancel={() => setConfirming(false)}
          choices={[
            {
              label: "Merge the winner",
              testId: "confirm-approve-winner",
              onChoose: () => {
                setConfirming(false);
                approve.mutate({ fleetId, runId: winner.id });
              },
            },
          ]}
        >
          {losers === 0
            ? "No other member is waiting for review."
            : `The other ${losers} member${losers === 1 ? "" : "s"} waiting for review will be rejected.`}
        </ConfirmDialog>
      )}
      {f.statusReason && (
        <p className="rounded-md border border-white/10 bg-white/5 px-3 py-2 text-sm text-gray-200">{f.statusReason}</p>
      )}

      <div className={`${surfaceClass} space-y-3 p-4`}>
        <ProgressBar finished={f.progress.finished} total={f.progress.total} />
        <dl className="grid grid-cols-2 gap-x-6 gap-y-2 text-sm md:grid-cols-5">
          <Meta label="At once" value={String(f.concurrency)} />
          <Meta label="Cost" value={`$${f.spent.usd.toFixed(4)}${f.budget.usd ? ` of $${f.budget.usd}` : ""}`} mono />
          <Meta label="Tokens" value={`${f.spent.tokens}${f.budget.tokens ? ` of ${f.budget.tokens}` : ""}`} mono />
          <Meta
            label="Wall clock"
            value={
              <>
                <Elapsed startedAt={f.createdAt} finishedAt={f.finishedAt} />
                {f.budget.wallClockMs ? ` of ${formatDuration(f.budget.wallClockMs)}` : ""}
              </>
            }
          />
          <Meta
            label="Ranked by"
            value={
              f.kind === "research"
                ? `best ${f.loops[0]?.metric ?? "metric"} (${f.loops[0]?.direction === "max" ? "higher" : "lower"})`
                : bestOfN
                  ? `checks${f.metric ? `, ${f.metric.name} (${f.metric.direction === "min" ? "lower" : "higher"})` : ""}, diff size, cost`
                  : "—"
            }
          />
        </dl>
      </div>

      {f.kind === "dag" && (
        <Panel
          title="Plan"
          actions={<span className="text-xs text-gray-500">live; click a subtask to open its run</span>}
        >
          <DagGraph
            nodes={f.members.map((m) => ({
              id: m.id,
              label: m.task.title,
              status: m.status,
              dependsOn: m.dependsOn,
              href: `/runs/${m.id}`,
            }))}
          />
        </Panel>
      )}

      {f.kind === "research" && <ResearchMembers loops={f.loops} />}

      {f.kind !== "research" && (
        <Panel
          title="Members"
          actions={
            bestOfN &&
            (merged ? (
              <span data-testid="fleet-merged" className="text-xs text-emerald-300">
                #{merged.memberIndex} merged as <span className="font-mono">{merged.mergedSha?.slice(0, 8)}</span> into{" "}
                <span className="font-mono">{merged.project.defaultBranch}</span>
              </span>
            ) : (
              <button
                type="button"
                data-testid="approve-winner"
                disabled={busy || !winner || approve.isPending}
                title={
                  busy
                    ? "Members are still running"
                    : winner
                      ? `Approve member ${winner.memberIndex}, reject the rest`
                      : "No member has green checks"
                }
                onClick={() => setConfirming(true)}
                className="rounded-md bg-emerald-500 px-3 py-1 text-xs font-medium text-black hover:bg-emerald-400 disabled:cursor-not-allowed disabled:opacity-40"
              >
                {approve.isPending
                  ? "Approving…"
                  : winner
                    ? `Approve the winner (#${winner.memberIndex})`
                    : "Approve the winner"}
              </button>
            ))
          }
        >
          <Table testId="fleet-members">
            <THead>
              {bestOfN && <Th>Rank</Th>}
              <Th>#</Th>
              <Th>Run</Th>
              <Th>Agent</Th>
              <Th>State</Th>
              <Th>Checks</Th>
              <Th right>Diff</Th>
              <Th right>Cost</Th>
              {f.metric && <Th right>{f.metric.name}</Th>}
              <Th last>Why</Th>
            </THead>
            <TBody>
              {members.map((m) => (
                <tr key={m.id} data-testid="fleet-member" data-run-id={m.id} data-rank={m.rank ?? ""}>
                  {bestOfN && <td className="py-1.5 pr-3 font-mono text-xs text-gray-200">{m.rank ?? "—"}</td>}
                  <td className="py-1.5 pr-3 font-mono text-xs text-gray-400">{m.memberIndex}</td>
                  <td className="py-1.5 pr-3">
                    <Link href={`/runs/${m.id}`} className="font-mono text-xs text-sky-300 hover:underline">
                      {m.id}
                    </Link>
                    {!bestOfN && <span className="ml-2 text-xs text-gray-500">{m.project.name}</span>}
                  </td>
                  <td
                    className="py-1.5 pr-3 text-xs text-gray-300"
                    title={m.task.routedBy ? `routed by ${m.task.routedBy}` : undefined}
                  >
                    {m.profile ?? m.agent}
                  </td>
                  <td className="py-1.5 pr-3">
                    <StatusBadge status={m.status} />
                  </td>
                  <td className="py-1.5 pr-3 text-xs">
                    {m.checks.length === 0 ? (
                      <span className="text-gray-600">—</span>
                    ) : (
                      m.checks.map((c) => (
                        <span
                          key={c.name}
                          title={c.name}
                          className={`mr-1 ${c.passed ? "text-emerald-300" : c.required ? "text-red-300" : "text-amber-300"}`}
                        >
                          {c.passed ? "✓" : "✗"}
                          {c.name}
                        </span>
                      ))
                    )}
                  </td>
                  <td className="py-1.5 pr-3 text-right font-mono text-xs">
                    {m.additions === null ? (
                      <span className="text-gray-600">—</span>
                    ) : (
                      <>
                        <span className="text-emerald-400">+{m.additions}</span>{" "}
                        <span className="text-red-400">−{m.deletions}</span>
                      </>
                    )}
                  </td>
                  <td className="py-1.5 pr-3 text-right font-mono text-xs text-gray-300">
                    {m.costUsd ? `$${m.costUsd.toFixed(4)}` : "—"}
                  </td>
                  {f.metric && (
                    <td className="py-1.5 pr-3 text-right font-mono text-xs text-gray-200">{m.metric ?? "—"}</td>
                  )}
                  <td
                    className="max-w-xs truncate py-1.5 text-xs text-gray-400"
                    title={[...m.rankReasons, m.statusReason].filter(Boolean).join("; ")}
                  >
                    {m.rankReasons.length ? m.rankReasons.join("; ") : (m.statusReason ?? "")}
                  </td>
                </tr>
              ))}
            </TBody>
          </Table>
        </Panel>
      )}

      {bestOfN && leaders.length > 0 && (
        <Panel
          title="Diffs side by side"
          actions={<span className="text-xs text-gray-500">the top {leaders.length} by rank</span>}
        >
          <div
            className={`grid gap-3 ${leaders.length === 1 ? "" : leaders.length === 2 ? "md:grid-cols-2" : "md:grid-cols-3"}`}
          >
            {leaders.map((m) => (
              <MemberDiff
                key={m.id}
                runId={m.id}
                title={`#${m.memberIndex}${m.rank ? ` · rank ${m.rank}` : ""} · ${m.profile ?? m.agent}`}
              />
            ))}
          </div>
        </Panel>
      )}
    </div>
  );
}

function MemberDiff({ runId, title }: { runId: string; title: string }) {
  const trpc = useTRPC();
  const diff = useQuery(trpc.runs.diff.queryOptions({ runId }));
  return (
    <div className="min-w-0 space-y-2" data-testid="member-diff">
      <div className="text-xs text-gray-300">{title}</div>
      <PatchView patch={diff.data?.diff ?? null} emptyText={diff.isLoading ? "Loading…" : "No changes."} />
    </div>
  );
}

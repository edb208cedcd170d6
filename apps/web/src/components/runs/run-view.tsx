"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useRouter } from "next/navigation";
import { useEffect, useMemo, useRef, useState } from "react";
import { formatDuration } from "@loopy/config/duration";
import type { StoredRunEvent } from "@loopy/core/live";
import { useTRPC } from "~/trpc/client";
import { ChecksPanel, FailingCheckpoints } from "./checks-panel";
import { DiffView, type DiffViewHandle } from "~/components/review/diff/diff-view";
import { ESCAPE, KeyHelp, useKeys, useToggle } from "~/components/shared/keyboard";
import { ReviewBar, type ReviewBarHandle } from "~/components/review/review-bar";
import { formatTime } from "~/components/shared/elapsed";
import { RunTimesText } from "./run-times";
import { ErrorNote, Meta, PageError } from "~/components/ui/field";
import { Panel, surfaceClass } from "~/components/ui/panel";
import { StatusBadge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";

const ACTIVE = new Set(["queued", "running", "verifying"]);
const REVIEWABLE = new Set(["awaiting_review", "needs_attention"]);

export function RunView({ runId }: { runId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const run = useQuery(trpc.runs.get.queryOptions({ runId }));
  // Asked for now, so they travel in the same batch as the run instead of after it renders.
  useQuery(trpc.runs.diff.queryOptions({ runId }));
  useQuery(trpc.review.comments.queryOptions({ runId }));
  const [events, setEvents] = useState<StoredRunEvent[]>([]);
  const seen = useRef(new Set<string>());
  const refetchTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => () => clearTimeout(refetchTimer.current), []);

  const subscription = useSubscription(
    trpc.runs.events.subscriptionOptions(
      { runId },
      {
        enabled: !run.error,
        onData: (tracked) => {
          const event = tracked.data;
          if (seen.current.has(event.id)) return;
          seen.current.add(event.id);
          setEvents((list) => [...list, event]);
          // A page opened late replays every past event at once: refetch once for the lot, not once each
          // (a 5,000-line diff is half a megabyte).
          if (["status", "diff", "checkpoint", "turn"].includes(event.event.type) && !refetchTimer.current) {
            refetchTimer.current = setTimeout(() => {
              refetchTimer.current = undefined;
              void queryClient.invalidateQueries({ queryKey: trpc.runs.get.queryKey({ runId }) });
              void queryClient.invalidateQueries({ queryKey: trpc.runs.diff.queryKey({ runId }) });
              void queryClient.invalidateQueries({ queryKey: trpc.runs.turns.queryKey({ runId }) });
              void queryClient.invalidateQueries({ queryKey: trpc.runs.checks.queryKey({ runId }) });
              void queryClient.invalidateQueries({ queryKey: trpc.review.comments.queryKey({ runId }) });
            }, 150);
          }
        },
      },
    ),
  );

  const cancel = useMutation(
    trpc.runs.cancel.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.runs.get.queryKey({ runId }) }),
    }),
  );

  const router = useRouter();
  const inbox = useQuery(trpc.review.inbox.queryOptions());
  const [help, toggleHelp, setHelp] = useToggle();
  const reviewBar = useRef<ReviewBarHandle>(null);
  // The inbox as it was while this run was in it: once approved or rejected the run leaves it, and the
  // reviewer goes on to the item that came after it (or back to the inbox when none is left), after a
  // moment in which the outcome shows and "Stay" keeps them here.
  const inboxBefore = useRef<string[]>([]);
  if (inbox.data?.some((item) => item.id === runId)) inboxBefore.current = inbox.data.map((item) => item.id);
  const [leaving, setLeaving] = useState<{ to: string; next: string | null } | null>(null);
  const leaveTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => () => clearTimeout(leaveTimer.current), []);
  const nextInInbox = async () => {
    const now = await queryClient.fetchQuery(trpc.review.inbox.queryOptions());
    const left = new Set(now.map((item) => item.id).filter((id) => id !== runId));
    const at = inboxBefore.current.indexOf(runId);
    const after = [...inboxBefore.current.slice(at + 1), ...inboxBefore.current.slice(0, Math.max(at, 0))];
    const next = after.find((id) => left.has(id)) ?? [...left][0] ?? null;
    const to = next ? `/runs/${next}` : "/review";
    setLeaving({ to, next });
    clearTimeout(leaveTimer.current);
    leaveTimer.current = setTimeout(() => router.push(to), 2000);
  };
  const diffView = useRef<DiffViewHandle>(null);
  const keys = useMemo(() => {
    const go = (step: number) => {
      const ids = (inbox.data ?? []).map((r) => r.id);
      if (ids.length === 0) return;
      const at = ids.indexOf(runId);
      const next = ids[(at + step + ids.length) % ids.length];
      if (next && next !== runId) router.push(`/runs/${next}`);
    };
    return {
      j: () => go(1),
      k: () => go(-1),
      n: () => diffView.current?.stepFile(1),
      p: () => diffView.current?.stepFile(-1),
      c: () => diffView.current?.commentOnCurrentFile(),
      a: () => !help && reviewBar.current?.approve(),
      r: () => !help && reviewBar.current?.requestChanges(),
      x: () =>
        !help &&
        window.confirm("Reject this run? Its worktree is removed; the branch is kept.") &&
        reviewBar.current?.reject(),
      "?": toggleHelp,
      [ESCAPE]: () => setHelp(false),
    };
  }, [inbox.data, runId, router, toggleHelp, setHelp, help]);
  useKeys(keys);

  if (run.error) return <PageError message={run.error.message} back={{ href: "/runs", label: "Back to runs" }} />;
  if (!run.data) return <p className="text-sm text-gray-400">Loading run…</p>;
  const r = run.data;
  const active = ACTIVE.has(r.status);
  const cancelRequested = events.some((e) => e.event.type === "cancel_requested");

  return (
    <div className="space-y-5">
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div className="space-y-1">
          <div className="flex items-center gap-3">
            <h1 className="font-mono text-lg text-white">run {r.id}</h1>
            <StatusBadge status={r.status} />
          </div>
          <p className="max-w-3xl truncate font-mono text-sm text-gray-300" title={r.task.prompt}>
            {r.agent === "command" ? `$ ${r.task.prompt}` : r.task.title}
          </p>
        </div>
        {active && (
          <Button tone="danger" onClick={() => cancel.mutate({ runId })} disabled={cancel.isPending || cancelRequested}>
            {cancelRequested || cancel.isPending ? "Cancelling…" : "Cancel run"}
          </Button>
        )}
      </div>
      <ErrorNote message={cancel.error?.message} />
      {r.statusReason && (
        <p
          data-testid="status-reason"
          className={`rounded-md border px-3 py-2 text-sm ${r.status === "needs_attention" ? "border-red-400/40 bg-red-500/10 text-red-100" : "border-white/10 bg-white/5 text-gray-200"}`}
        >
          {r.statusReason}
        </p>
      )}
      {REVIEWABLE.has(r.status) && <FailingCheckpoints runId={runId} />}
      {leaving && (
        <p
          data-testid="leaving"
          role="status"
          className="flex items-center gap-3 rounded-md border border-sky-400/30 bg-sky-500/10 px-3 py-2 text-sm text-sky-100"
        >
          Run {r.status.replaceAll("_", " ")}.{" "}
          {leaving.next
            ? `Opening the next run in the inbox (${leaving.next})…`
            : "Nothing else waits for review: back to the inbox…"}
          <button
            type="button"
            className="ml-auto text-xs text-sky-300 underline"
            onClick={() => {
              clearTimeout(leaveTimer.current);
              setLeaving(null);
            }}
          >
            Stay here
          </button>
        </p>
      )}

      {REVIEWABLE.has(r.status) && (
        <ReviewBar
          ref={reviewBar}
          runId={runId}
          status={r.status}
          checksPassed={r.checksPassed}
          onDone={() => undefined}
          onDecided={() => void nextInInbox()}
        />
      )}
      <KeyHelp open={help} onClose={() => setHelp(false)} />

      <dl className={`${surfaceClass} grid grid-cols-2 gap-x-6 gap-y-2 p-4 text-sm md:grid-cols-4`}>
        <Meta label="Project" value={r.project.name} />
        <Meta
          label="Agent"
          value={`${r.task.agentProfile ? `${r.task.agentProfile.name} (${r.agent})` : r.agent}${r.task.routedBy ? ` · ${r.task.routedBy}` : ""}`}
        />
        <Meta label="Branch" value={r.branch} mono />
        <Meta label="Base" value={`${r.baseRef} @ ${r.baseSha.slice(0, 8)}`} mono />
        <Meta label="Started" value={formatTime(r.startedAt)} />
        <Meta label="Time" value={<RunTimesText times={r.times} />} />
        <Meta label="Exit code" value={r.exitCode === null ? "—" : String(r.exitCode)} mono />
        <Meta label="Timeout" value={formatDuration(r.timeoutMs)} />
        <Meta label="Turns" value={String(r.turns)} />
        <Meta label="Checks" value={r.checksPassed === null ? "—" : r.checksPassed ? "green" : "failing"} />
        <Meta
          label="Tokens"
          value={r.inputTokens + r.outputTokens ? `${r.inputTokens} in / ${r.outputTokens} out` : "—"}
        />
        <Meta label="Cost" value={r.costUsd ? `$${r.costUsd.toFixed(4)}` : "—"} />
      </dl>

      <Panel
        title="Log"
        actions={
          <span className="text-xs text-gray-500" data-testid="stream-state">
            {subscription.status === "pending" ? "live" : subscription.status}
          </span>
        }
      >
        <LogPanel events={events} />
      </Panel>

      <ChecksPanel runId={runId} />

      <DiffView ref={diffView} runId={runId} status={r.status} />
      <p className="text-xs text-gray-500">
        Press <kbd className="font-mono text-sky-300">?</kbd> for keyboard shortcuts.
      </p>
    </div>
  );
}

function LogPanel({ events }: { events: StoredRunEvent[] }) {
  const box = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  // Each new event scrolls to the bottom, unless the reader scrolled up.
  const count = events.length;
  useEffect(() => {
    const el = box.current;
    if (count > 0 && el && stick.current) el.scrollTop = el.scrollHeight;
  }, [count]);
  if (events.length === 0) return <p className="text-sm text-gray-500">Waiting for events…</p>;
  return (
    <div
      ref={box}
      data-testid="run-log"
      onScroll={(e) => {
        const el = e.currentTarget;
        stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
      }}
      className="max-h-[28rem] overflow-auto rounded-md bg-black/40 p-3 font-mono text-xs leading-5"
    >
      {events.map((e) => (
        <EventLine key={e.id} event={e} />
      ))}
    </div>
  );
}

function EventLine({ event }: { event: StoredRunEvent }) {
  const e = event.event;
  const time = new Date(event.at).toLocaleTimeString(undefined, { hour12: false });
  const stamp = <span className="mr-3 select-none text-gray-600">{time}</span>;
  switch (e.type) {
    case "log":
      return (
        <div
          data-testid="log-line"
          className={`whitespace-pre-wrap break-all ${e.stream === "stderr" ? "text-amber-200" : "text-gray-200"}`}
        >
          {stamp}
          {e.line}
        </div>
      );
    case "status":
      return (
        <div className="text-sky-300">
          {stamp}● {e.status.replace("_", " ")}
          {e.reason ? ` — ${e.reason}` : ""}
        </div>
      );
    case "command":
      return (
        <div className="text-violet-300">
          {stamp}$ {e.command}
          {`  → ${e.exitCode === null ? "killed" : `exit ${e.exitCode}`}`}
        </div>
      );
    case "worktree":
      return (
        <div className="text-gray-500">
          {stamp}worktree {e.path} on {e.branch}
        </div>
      );
    case "diff":
      return (
        <div className="text-gray-400">
          {stamp}diff: {e.files} file{e.files === 1 ? "" : "s"}, +{e.additions} −{e.deletions}
        </div>
      );
    case "cancel_requested":
      return <div className="text-red-300">{stamp}cancel requested</div>;
    case "outcome":
      return null;
    case "session":
      return null;
    case "message":
      return (
        <div className="whitespace-pre-wrap text-gray-100">
          {stamp}
          {e.text}
        </div>
      );
    case "tool_call":
      return (
        <div className="text-violet-300">
          {stamp}→ {e.name} <span className="text-gray-400">{e.summary}</span>
        </div>
      );
    case "tool_result":
      return (
        <div className={e.ok ? "text-gray-500" : "text-red-300"}>
          {stamp}
          {e.ok ? "  ✓ " : "  ✗ "}
          {e.summary}
        </div>
      );
    case "file_edit":
      return (
        <div className="text-emerald-300/80">
          {stamp}
          {e.kind} {e.path}
        </div>
      );
    case "usage":
      return (
        <div className="text-gray-500">
          {stamp}usage: {e.inputTokens} in / {e.outputTokens} out
          {e.costUsd !== undefined ? ` · $${e.costUsd.toFixed(4)}` : ""}
        </div>
      );
    case "error":
      return (
        <div className="text-red-300">
          {stamp}error: {e.message}
        </div>
      );
    case "turn":
      return (
        <div className="mt-1 border-t border-white/10 pt-1 text-sky-200">
          {stamp}── turn {e.index + 1} ({e.kind.replace("_", " ")})
        </div>
      );
    case "checkpoint":
      return (
        <div className={e.passed ? "text-emerald-300" : "text-red-300"}>
          {stamp}
          {e.passed ? "✓" : "✗"} checkpoint {e.name}
          {e.required ? "" : " (optional)"}
        </div>
      );
    default:
      // Every event type is handled above; an unknown one from a newer worker shows by name.
      return (
        <div className="text-gray-400">
          {stamp}
          {(e as { type: string }).type}
        </div>
      );
  }
}

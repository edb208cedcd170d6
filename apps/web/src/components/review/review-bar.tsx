"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { forwardRef, useEffect, useImperativeHandle, useRef, useState } from "react";
import { useTRPC } from "~/trpc/client";
import { useFailingCheckpoints } from "~/components/runs/checks-panel";
import { ConfirmDialog } from "~/components/ui/dialog";
import { ErrorNote } from "~/components/ui/field";
import { Button } from "~/components/ui/button";

export interface ReviewBarHandle {
  approve(): void;
  requestChanges(): void;
  reject(): void;
}

/**
 * Approve (merge), request changes (sends pending comments plus a summary to
 * the agent) and reject, for a run that waits for a human. Approving always
 * asks first, naming the branch, the target and the strategy (`a`, then Enter);
 * with comments not sent yet it first asks what becomes of them, since a
 * merged run never gets them.
 */
export const ReviewBar = forwardRef<
  ReviewBarHandle,
  {
    runId: string;
    status: string;
    checksPassed: boolean | null;
    onDone?: () => void /** After an approve or a reject: the run left review. */;
    onDecided?: () => void;
  }
>(function ReviewBar({ runId, status, checksPassed, onDone, onDecided }, ref) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const comments = useQuery(trpc.review.comments.queryOptions({ runId }));
  const pending = (comments.data ?? []).filter((c) => c.status === "pending").length;
  // The same query as the run page's, so it comes from the cache: the merge's branch, target and strategy.
  const run = useQuery(trpc.runs.get.queryOptions({ runId }));
  const [asking, setAsking] = useState<null | "pending" | "merge">(null);
  const [discard, setDiscard] = useState(false);
  const [summaryOpen, setSummaryOpen] = useState(false);
  const [summary, setSummary] = useState("");
  const summaryBox = useRef<HTMLTextAreaElement>(null);
  const refresh = async (decided = false) => {
    await Promise.all([
      queryClient.invalidateQueries({ queryKey: trpc.runs.get.queryKey({ runId }) }),
      queryClient.invalidateQueries({ queryKey: trpc.review.comments.queryKey({ runId }) }),
      queryClient.invalidateQueries({ queryKey: trpc.review.inbox.queryKey() }),
      queryClient.invalidateQueries({ queryKey: trpc.review.counts.queryKey() }),
    ]);
    onDone?.();
    if (decided) onDecided?.();
  };
  const approve = useMutation(trpc.review.approve.mutationOptions({ onSuccess: () => refresh(true) }));
  const reject = useMutation(trpc.review.reject.mutationOptions({ onSuccess: () => refresh(true) }));
  const request = useMutation(
    trpc.review.requestChanges.mutationOptions({
      onSuccess: async () => {
        setSummary("");
        setSummaryOpen(false);
        await refresh();
      },
    }),
  );
  const canApprove = status === "awaiting_review" && checksPassed !== false;
  const failing = useFailingCheckpoints(runId);
  const unavailable = canApprove
    ? null
    : `Approve is unavailable: ${approveBlocker(
        status,
        failing.map((c) => c.name),
        run.data?.statusReason ?? null,
      )}`;
  // A refused "a" says why, where the reader is looking (it may be far down the diff), for a few seconds.
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(() => setNotice(null), 6000);
    return () => clearTimeout(timer);
  }, [notice]);
  const busy = approve.isPending || reject.isPending || request.isPending;
  const startApprove = () => {
    if (unavailable) return setNotice(unavailable);
    if (!canApprove || busy || asking) return;
    approve.reset();
    setDiscard(false);
    setAsking(pending > 0 ? "pending" : "merge");
  };
  const target = run.data?.project.defaultBranch ?? "the default branch";
  const strategy = run.data?.project.mergeStrategy === "squash" ? "squash" : "merge commit";

  useImperativeHandle(ref, () => ({
    approve: startApprove,
    requestChanges: () => {
      setSummaryOpen(true);
      setTimeout(() => summaryBox.current?.focus(), 0);
    },
    reject: () => !busy && reject.mutate({ runId }),
  }));

  return (
    <div className="space-y-3 rounded-lg border border-amber-400/30 bg-amber-500/5 p-4" data-testid="review-bar">
      <div className="flex flex-wrap items-center gap-3">
        <span className="text-sm text-amber-100">
          {status === "awaiting_review" ? "Waiting for your review" : "Needs your attention"}
        </span>
        <span className="text-xs text-gray-400">
          {pending} pending comment{pending === 1 ? "" : "s"}
        </span>
        <div className="ml-auto flex gap-2">
          <button
            type="button"
            disabled={!canApprove || busy}
            title={unavailable ?? "Merge into the default branch (a)"}
            onClick={startApprove}
            className="rounded-md bg-emerald-500 px-3 py-1.5 text-sm font-medium text-black hover:bg-emerald-400 disabled:opacity-40"
          >
            Approve <kbd className="ml-1 text-xs opacity-70">a</kbd>
          </button>
          <Button
            tone="warn"
            disabled={busy}
            onClick={() => {
              setSummaryOpen(true);
              setTimeout(() => summaryBox.current?.focus(), 0);
            }}
          >
            Request changes <kbd className="ml-1 text-xs opacity-70">r</kbd>
          </Button>
          <Button
            tone="danger"
            disabled={busy}
            onClick={() =>
              window.confirm("Reject this run? Its worktree is removed; the branch is kept.") &&
              reject.mutate({ runId })
            }
          >
            Reject <kbd className="ml-1 text-xs opacity-70">x</kbd>
          </Button>
        </div>
      </div>
      {summaryOpen && (
        <form
          className="space-y-2"
          onSubmit={(e) => {
            e.preventDefault();
            request.mutate({ runId, message: summary || undefined });
          }}
        >
          <textarea
            ref={summaryBox}
            aria-label="Summary for the agent"
            value={summary}
            onChange={(e) => setSummary(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Escape") setSummaryOpen(false);
              if (e.key === "Enter" && (e.metaKey || e.ctrlKey) && !request.isPending)
                request.mutate({ runId, message: summary || undefined });
            }}
            placeholder="Optional summary; the pending comments go with it"
            className="min-h-20 w-full rounded-md border border-white/10 bg-black/40 p-2 text-sm text-gray-100"
          />
          <Button tone="attention" type="submit" disabled={request.isPending}>
            {request.isPending ? "Sending…" : "Send to the agent"}
          </Button>
        </form>
      )}
      {asking === "pending" && (
        <ConfirmDialog
          testId="pending-comments-dialog"
          title={`${pending} comment${pending === 1 ? "" : "s"} not sent yet`}
          onCancel={() => setAsking(null)}
          choices={[
            {
              label: `Send ${pending === 1 ? "it" : "them"} as a change request`,
              testId: "send-pending",
              onChoose: () => {
                setAsking(null);
                request.mutate({ runId });
              },
            },
            {
              label: `Discard ${pending === 1 ? "it" : "them"} and approve`,
              testId: "discard-pending",
              tone: "plain",
              onChoose: () => {
                setDiscard(true);
                setAsking("merge");
              },
            },
          ]}
        >
          Approving merges the run and ends it: the agent would never get{" "}
          {pending === 1 ? "this comment" : "these comments"}.
        </ConfirmDialog>
      )}
      {asking === "merge" && (
        <ConfirmDialog
          testId="merge-confirm"
          title={`Merge ${run.data?.branch ?? `run ${runId}`} into ${target} (${strategy})?`}
          onCancel={() => setAsking(null)}
          choices={[
            {
              label: "Merge",
              testId: "confirm-merge",
              onChoose: () => {
                setAsking(null);
                approve.mutate({ runId, ...(discard ? { pendingComments: "discard" as const } : {}) });
              },
            },
          ]}
        >
          {discard ? `${pending} comment${pending === 1 ? "" : "s"} not sent will be discarded. ` : ""}Enter merges,
          Escape cancels.
        </ConfirmDialog>
      )}
      {notice && (
        <p
          role="alert"
          data-testid="approve-unavailable"
          className="fixed bottom-6 left-1/2 z-50 -translate-x-1/2 rounded-md border border-red-400/50 bg-danger-surface px-4 py-2 text-sm text-red-100 shadow-lg"
        >
          {notice}
        </p>
      )}
      <ErrorNote message={approve.error?.message ?? reject.error?.message ?? request.error?.message} />
      {approve.error && /conflicts in/.test(approve.error.message) && (
        <Button
          tone="warn"
          onClick={() =>
            request.mutate({
              runId,
              message: `Your branch no longer merges cleanly: ${approve.error?.message ?? ""} Rebase it onto the target branch (git rebase), resolve the conflicts, keep the checks green, and finish.`,
            })
          }
        >
          Ask the agent to rebase
        </Button>
      )}
    </div>
  );
});

/** Why a run cannot be approved, as the end of "Approve is unavailable: …". */
function approveBlocker(status: string, failingCheckpoints: string[], statusReason: string | null): string {
  if (failingCheckpoints.length > 0)
    return `checkpoint${failingCheckpoints.length === 1 ? "" : "s"} ${failingCheckpoints.join(", ")} failed`;
  if (statusReason) return statusReason.charAt(0).toLowerCase() + statusReason.slice(1);
  if (status === "needs_attention") return "the run needs attention";
  return `the run is ${status.replaceAll("_", " ")}`;
}

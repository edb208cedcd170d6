const STYLES: Record<string, string> = {
  queued: "bg-gray-500/15 text-gray-300 ring-gray-400/30",
  running: "bg-sky-500/15 text-sky-300 ring-sky-400/40",
  verifying: "bg-indigo-500/15 text-indigo-300 ring-indigo-400/40",
  awaiting_review: "bg-amber-500/15 text-amber-300 ring-amber-400/40",
  needs_attention: "bg-orange-500/15 text-orange-300 ring-orange-400/40",
  succeeded: "bg-emerald-500/15 text-emerald-300 ring-emerald-400/40",
  merged: "bg-violet-500/15 text-violet-300 ring-violet-400/40",
  failed: "bg-red-500/15 text-red-300 ring-red-400/40",
  rejected: "bg-red-500/10 text-red-300/80 ring-red-400/30",
  cancelled: "bg-zinc-500/15 text-zinc-300 ring-zinc-400/30",
  // Research loops and experiments.
  completed: "bg-emerald-500/15 text-emerald-300 ring-emerald-400/40",
  paused: "bg-gray-500/15 text-gray-300 ring-gray-400/30",
  keep: "bg-emerald-500/15 text-emerald-300 ring-emerald-400/40",
  discard: "bg-zinc-500/15 text-zinc-300 ring-zinc-400/30",
  crash: "bg-red-500/15 text-red-300 ring-red-400/40",
  timeout: "bg-orange-500/15 text-orange-300 ring-orange-400/40",
  flagged: "bg-amber-500/15 text-amber-300 ring-amber-400/40",
};

export function StatusBadge({ status, testId = "run-status" }: { status: string; testId?: string }) {
  const live = status === "running" || status === "verifying";
  return (
    <span
      data-testid={testId}
      data-status={status}
      className={`inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${STYLES[status] ?? STYLES.queued}`}
    >
      {live && <span className="h-1.5 w-1.5 animate-pulse rounded-full bg-current" aria-hidden />}
      {status.replace("_", " ")}
    </span>
  );
}

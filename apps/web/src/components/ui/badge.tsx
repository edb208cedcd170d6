import type { ReactNode } from "react";

/** Tones of a badge: a colour family, matched by ring, background and text. */
export type BadgeTone =
  | "gray"
  | "sky"
  | "indigo"
  | "amber"
  | "orange"
  | "emerald"
  | "violet"
  | "red"
  | "muted-red"
  | "zinc";

const TONE: Record<BadgeTone, string> = {
  gray: "bg-gray-500/15 text-gray-300 ring-gray-400/30",
  sky: "bg-sky-500/15 text-sky-300 ring-sky-400/40",
  indigo: "bg-indigo-500/15 text-indigo-300 ring-indigo-400/40",
  amber: "bg-amber-500/15 text-amber-300 ring-amber-400/40",
  orange: "bg-orange-500/15 text-orange-300 ring-orange-400/40",
  emerald: "bg-emerald-500/15 text-emerald-300 ring-emerald-400/40",
  violet: "bg-violet-500/15 text-violet-300 ring-violet-400/40",
  red: "bg-red-500/15 text-red-300 ring-red-400/40",
  "muted-red": "bg-red-500/10 text-red-300/80 ring-red-400/30",
  zinc: "bg-zinc-500/15 text-zinc-300 ring-zinc-400/30",
};

const STATUS_TONE: Record<string, BadgeTone> = {
  queued: "gray",
  running: "sky",
  verifying: "indigo",
  awaiting_review: "amber",
  needs_attention: "orange",
  succeeded: "emerald",
  merged: "violet",
  failed: "red",
  rejected: "muted-red",
  cancelled: "zinc",
  // Research loops and experiments.
  completed: "emerald",
  paused: "gray",
  keep: "emerald",
  discard: "zinc",
  crash: "red",
  timeout: "orange",
  flagged: "amber",
};

/** A small rounded label. */
function Badge({
  tone = "gray",
  testId,
  className,
  children,
  ...data
}: {
  tone?: BadgeTone;
  testId?: string;
  className?: string;
  children: ReactNode;
  "data-status"?: string;
}) {
  return (
    <span
      data-testid={testId}
      className={`inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${TONE[tone]} ${className ?? ""}`}
      {...data}
    >
      {children}
    </span>
  );
}

/** A run's, loop's or experiment's status; a live one (running, verifying) pulses. */
export function StatusBadge({ status, testId = "run-status" }: { status: string; testId?: string }) {
  const live = status === "running" || status === "verifying";
  return (
    <Badge tone={STATUS_TONE[status] ?? "gray"} testId={testId} data-status={status}>
      {live && <span className="h-1.5 w-1.5 animate-pulse rounded-full bg-current" aria-hidden />}
      {status.replace("_", " ")}
    </Badge>
  );
}

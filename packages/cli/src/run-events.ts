import type { LoopyClient } from "./client.ts";
import type { Print } from "./command.ts";

export type StoredEvent = Awaited<ReturnType<LoopyClient["runs"]["eventLog"]["query"]>>[number];

const TERMINAL = new Set(["succeeded", "failed", "cancelled", "merged", "rejected"]);
/** States where --wait returns: a human is needed, or the run is over. */
export const SETTLED = new Set([...TERMINAL, "awaiting_review", "needs_attention"]);

/** One line of a run's log for a terminal, or null for events not shown. */
export function eventLine(e: StoredEvent): string | null {
  const ev = e.event;
  switch (ev.type) {
    case "log":
      return ev.line;
    case "status":
      return `● ${ev.status}${ev.reason ? ` — ${ev.reason}` : ""}`;
    case "command":
      return `$ ${ev.command}  → ${ev.exitCode === null ? "killed" : `exit ${ev.exitCode}`}`;
    case "diff":
      return `diff: ${ev.files} file(s), +${ev.additions} -${ev.deletions}`;
    case "cancel_requested":
      return "cancel requested";
    case "message":
      return ev.text;
    case "tool_call":
      return `→ ${ev.name} ${ev.summary}`;
    case "turn":
      return `── turn ${ev.index + 1} (${ev.kind.replace("_", " ")})`;
    case "checkpoint":
      return `${ev.passed ? "✓" : "✗"} checkpoint ${ev.name}${ev.required ? "" : " (optional)"}`;
    case "usage":
      return `usage: ${ev.inputTokens} in / ${ev.outputTokens} out${ev.costUsd !== undefined ? `, $${ev.costUsd.toFixed(4)}` : ""}`;
    case "error":
      return `error: ${ev.message}`;
    default:
      return null;
  }
}

/**
 * Streams a run's events until it settles (ends, or needs a human). Events up to
 * `afterId` are skipped, so a follow-up waits for its own turn's outcome.
 */
export function follow(
  client: LoopyClient,
  runId: string,
  onEvent: (e: StoredEvent) => void,
  stopAt = SETTLED,
  afterId?: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const sub = client.runs.events.subscribe(
      { runId, lastEventId: afterId ?? null },
      {
        onData: ({ data }) => {
          onEvent(data as StoredEvent);
          if (data.event.type === "status" && stopAt.has(data.event.status)) {
            sub.unsubscribe();
            resolve();
          }
        },
        onError: (error) => {
          sub.unsubscribe();
          reject(error);
        },
      },
    );
  });
}

/** Every stored event of a run, oldest first. */
export async function allEvents(client: LoopyClient, runId: string): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let afterId: string | null = null;
  for (;;) {
    const page: StoredEvent[] = await client.runs.eventLog.query({ runId, afterId, limit: 1000 });
    events.push(...page);
    if (page.length < 1000) return events;
    afterId = page[page.length - 1]?.id ?? null;
  }
}

/** Prints where a waited-for run stands and returns the exit code for it. */
export async function finish(client: LoopyClient, runId: string, json: boolean, print: Print): Promise<number> {
  const done = await client.runs.get.query({ runId });
  if (json) print(done, () => "");
  else process.stderr.write(`Run ${done.id} ${done.status}${done.statusReason ? `: ${done.statusReason}` : ""}\n`);
  return ["succeeded", "awaiting_review", "merged"].includes(done.status) ? 0 : 3;
}

import type { RunEventData, StoredRunEvent } from "./run-events.ts";

const MAX = 160;

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > MAX ? `${line.slice(0, MAX - 1)}…` : line;
}

/**
 * A run's current activity in one line, from one of its events: what the
 * overview shows next to each agent. Null for events that say nothing a
 * person watching would want (session ids, empty lines).
 */
export function activityLine(event: RunEventData): string | null {
  switch (event.type) {
    case "log":
      return event.line.trim() ? oneLine(event.line) : null;
    case "message":
      return event.text.trim() ? oneLine(event.text) : null;
    case "tool_call":
      return oneLine(`→ ${event.name} ${event.summary}`);
    case "tool_result":
      return oneLine(`${event.ok ? "←" : "✗"} ${event.name ?? "tool"} ${event.summary}`);
    case "command":
      return oneLine(`$ ${event.command}${event.exitCode === null ? "" : ` → exit ${event.exitCode}`}`);
    case "file_edit":
      return oneLine(`${event.kind} ${event.path}`);
    case "error":
      return oneLine(`error: ${event.message}`);
    case "status":
      return oneLine(`● ${event.status.replace("_", " ")}${event.reason ? ` — ${event.reason}` : ""}`);
    case "turn":
      return `turn ${event.index + 1} (${event.kind.replace("_", " ")})`;
    case "checkpoint":
      return oneLine(`${event.passed ? "✓" : "✗"} checkpoint ${event.name}`);
    case "diff":
      return `diff: ${event.files} file(s), +${event.additions} −${event.deletions}`;
    case "cancel_requested":
      return "cancel requested";
    default:
      return null;
  }
}

/** The latest activity line among stored events (newest last), with its time. */
export function latestActivity(events: StoredRunEvent[]): { line: string; at: string } | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i] as StoredRunEvent;
    const line = activityLine(e.event);
    if (line) return { line, at: e.at };
  }
  return null;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a human duration ("90s", "5m", "1h30m", "250ms", or a bare number of
 * seconds) into milliseconds. Throws with a message that says what is accepted.
 *
 * Loopy's one duration parser: the environment (LOOPY_RUN_LEASE, LOOPY_DEFAULT_TIMEOUT, ...),
 * checkpoint timeouts, run and fleet timeouts, fleet wall-clock budgets and research budgets all
 * go through it (callers that take an optional field add the field's name to the message).
 */
export function parseDuration(input: string | number): number {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input <= 0)
      throw new Error(`Duration must be a positive number of seconds, got ${input}`);
    return atLeastOneMs(input * 1000, input);
  }
  const text = input.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(text)) return parseDuration(Number(text));
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(part)) {
    if (match.index !== consumed) break;
    total += Number(match[1]) * (UNITS[match[2] as string] as number);
    consumed += match[0].length;
  }
  if (consumed === 0 || consumed !== text.length || total <= 0) {
    throw new Error(`Invalid duration "${input}": use forms like 30s, 5m, 1h30m or 500ms`);
  }
  return atLeastOneMs(total, input);
}

/** Whole milliseconds; a positive duration that would round to 0ms (no time at all) is refused. */
function atLeastOneMs(ms: number, input: string | number): number {
  const rounded = Math.round(ms);
  if (rounded < 1)
    throw new Error(`Duration ${JSON.stringify(input)} is under 1ms: use a positive duration such as 500ms`);
  return rounded;
}

/** Formats milliseconds compactly for people: 950ms, 12.3s, 4m05s, 2h03m. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const totalSeconds = Math.floor(ms / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${hours}h${String(minutes).padStart(2, "0")}m`;
  return `${minutes}m${String(seconds).padStart(2, "0")}s`;
}

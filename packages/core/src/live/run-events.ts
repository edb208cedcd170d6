import type { AgentEvent } from "@loopy/agents/events";
import type { Db, Prisma } from "@loopy/db/client";
import type { RunStatus } from "../runs/run-status.ts";
import type { RunNotifier } from "../shared/ports.ts";

/** Events that Loopy itself adds to a run's log, next to the agent's own. */
export type LoopyEvent =
  | { type: "status"; status: RunStatus; reason?: string }
  | { type: "cancel_requested" }
  | { type: "worktree"; path: string; branch: string; baseSha: string }
  | { type: "diff"; files: number; additions: number; deletions: number; headSha: string | null }
  | { type: "turn"; index: number; kind: "initial" | "checkpoint_feedback" | "review_feedback" }
  | { type: "checkpoint"; name: string; passed: boolean; required: boolean; durationMs: number; turn: number };

export type RunEventData = AgentEvent | LoopyEvent;

/** An event as stored and pushed: the id orders a run's events and is the resume point of a stream. */
export interface StoredRunEvent {
  id: string;
  runId: string;
  at: string;
  event: RunEventData;
}

function toStored(row: { id: bigint; runId: string; data: unknown; createdAt: Date }): StoredRunEvent {
  return { id: row.id.toString(), runId: row.runId, at: row.createdAt.toISOString(), event: row.data as RunEventData };
}

/**
 * One INSERT for events of one or more runs, in the order given, returning the
 * stored rows sorted by id. Plain SQL over two arrays: Prisma's
 * createManyAndReturn costs about 1 ms a row here, this about a seventh of it,
 * and the event log is the hottest write in Loopy.
 */
async function insertEvents(
  db: Db | Prisma.TransactionClient,
  rows: Array<{ runId: string; event: RunEventData }>,
): Promise<StoredRunEvent[]> {
  const inserted = await db.$queryRawUnsafe<Array<{ id: bigint; run_id: string; data: unknown; created_at: Date }>>(
    `INSERT INTO run_events (run_id, type, data)
     SELECT u.run_id, u.data->>'type', u.data FROM unnest($1::text[], $2::jsonb[]) WITH ORDINALITY AS u(run_id, data, n) ORDER BY u.n
     RETURNING id, run_id, data, created_at`,
    rows.map((r) => r.runId),
    rows.map((r) => JSON.stringify(withoutNul(r.event))),
  );
  return inserted
    .map((row) => toStored({ id: row.id, runId: row.run_id, data: row.data, createdAt: row.created_at }))
    .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
}

/** Stores events (one insert) and then pushes them. Storage first: a viewer that connects later replays them. */
export async function appendRunEvents(
  db: Db | Prisma.TransactionClient,
  notifier: RunNotifier | null,
  runId: string,
  events: RunEventData[],
): Promise<StoredRunEvent[]> {
  if (events.length === 0) return [];
  const stored = await insertEvents(
    db,
    events.map((event) => ({ runId, event })),
  );
  if (notifier) await notifier.runEvents(runId, stored);
  return stored;
}

/** Rows one shared insert takes at most; more waiting goes in the next. */
const SINK_MAX_ROWS = 5_000;

/**
 * Every run's events in this process go through one sink per database: while
 * one insert is in flight, what the other runs push waits and then goes in one
 * insert together. Idle, an append is inserted at once (no added delay); with
 * 1,000 chatty runs it is a few inserts a second instead of a thousand, which
 * a pool of ten connections cannot keep up with. Per run, order is kept: a
 * `RunEventWriter` appends its next batch only after the last one is stored.
 */
class RunEventSink {
  private pending: Array<{
    runId: string;
    events: RunEventData[];
    resolve: (s: StoredRunEvent[]) => void;
    reject: (e: unknown) => void;
  }> = [];
  private draining = false;

  constructor(private readonly db: Db) {}

  append(runId: string, events: RunEventData[]): Promise<StoredRunEvent[]> {
    if (events.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.pending.push({ runId, events, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.pending.length > 0) {
        let rows = 0;
        let take = 0;
        while (take < this.pending.length && (take === 0 || rows + this.pending[take]!.events.length <= SINK_MAX_ROWS))
          rows += this.pending[take++]!.events.length;
        const batch = this.pending.splice(0, take);
        try {
          const stored = await insertEvents(
            this.db,
            batch.flatMap((r) => r.events.map((event) => ({ runId: r.runId, event }))),
          );
          // Hand each request its own rows, in id order (one run may have several requests in a batch only in that order).
          const byRun = new Map<string, StoredRunEvent[]>();
          for (const row of stored) {
            const list = byRun.get(row.runId) ?? [];
            list.push(row);
            byRun.set(row.runId, list);
          }
          for (const request of batch) request.resolve(byRun.get(request.runId)!.splice(0, request.events.length));
        } catch {
          // One run's bad batch (its run deleted, say) must not fail the others': each alone, its own error to its own writer.
          for (const request of batch)
            await appendRunEvents(this.db, null, request.runId, request.events).then(request.resolve, request.reject);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}

const sinks = new WeakMap<Db, RunEventSink>();
function sinkFor(db: Db): RunEventSink {
  let sink = sinks.get(db);
  if (!sink) {
    sink = new RunEventSink(db);
    sinks.set(db, sink);
  }
  return sink;
}

/** Postgres text and jsonb cannot hold NUL; a process may print one. */
export function stripNul(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "\uFFFD") : text;
}

/** `value` with NUL characters replaced in every string inside it (Postgres text and jsonb refuse them). */
export function withoutNul<T>(value: T): T {
  if (typeof value === "string") return stripNul(value) as T;
  if (Array.isArray(value)) return value.map(withoutNul) as T;
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNul(v)])) as T;
  return value;
}

/** A run's stored events after `afterId` (exclusive), oldest first. */
export async function listRunEvents(
  db: Db,
  runId: string,
  afterId?: string | null,
  limit = 1000,
): Promise<StoredRunEvent[]> {
  const rows = await db.runEvent.findMany({
    where: { runId, ...(afterId ? { id: { gt: BigInt(afterId) } } : {}) },
    orderBy: { id: "asc" },
    take: limit,
    select: { id: true, runId: true, data: true, createdAt: true },
  });
  return rows.map(toStored);
}

/** Any one string in a stored event is cut beyond this many characters (a 10 MB tool output, message or line). */
export const MAX_EVENT_TEXT = 256 * 1024;
/** Output events (log lines, tool calls and results, file edits) stored per turn, at most, in characters. */
export const MAX_TURN_OUTPUT = 8 * 1024 * 1024;
/** Event types that are output: past `MAX_TURN_OUTPUT` they are counted, not stored. Others (status, messages, commands, usage, outcome…) are always stored. */
const OUTPUT_TYPES = new Set<string>(["log", "tool_call", "tool_result", "file_edit"]);
/** Output events kept past the limit, the last ones, as the end of the turn's output (where a summary usually is). */
const TAIL_EVENTS = 500;
const TAIL_TEXT = 64 * 1024;
/** What a stored row costs besides its text (ids, JSON keys, index entries), so a million one-character lines count as more than 1 MB. */
const EVENT_OVERHEAD = 100;
/** The line `runProcess` adds when it cut a command's output: stored even past the limit (a few per turn), so the log says what is missing. */
const PROCESS_CUT_NOTE = /^\[loopy\] output cut: /;

/**
 * `event` with every string longer than `max` characters cut, each saying how
 * much was cut, and its total text size (before cutting).
 */
export function capEventText<T>(event: T, max = MAX_EVENT_TEXT): { event: T; size: number } {
  let size = 0;
  const walk = (value: unknown): unknown => {
    if (typeof value === "string") {
      size += value.length;
      return value.length > max
        ? `${value.slice(0, max)}… [${(value.length - max).toLocaleString("en-US")} more characters cut from this event]`
        : value;
    }
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === "object")
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  const capped = walk(event) as T;
  return { event: capped, size };
}

/**
 * Collects events and stores them in batches, so a chatty process costs one
 * insert per `intervalMs` instead of one per line. Order is kept. Bounded:
 * each string in an event is cut at `MAX_EVENT_TEXT`, and past
 * `maxOutputPerTurn` characters of output events between two `flush` calls
 * (one turn) output is counted, not stored, except its last 500 events
 * (64 K characters); the next flush stores one line saying how much was left
 * out, then those last events.
 */
export class RunEventWriter {
  private buffer: RunEventData[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** Pushes, in order, behind the stores: a Redis outage delays them but never holds up storing. */
  private publishing: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  constructor(
    private readonly db: Db,
    private readonly notifier: RunNotifier,
    private readonly runId: string,
    private readonly intervalMs = 50,
    private readonly maxBatch = 500,
    private readonly maxOutputPerTurn = MAX_TURN_OUTPUT,
  ) {}

  private output = 0;
  private notes = 0;
  private dropped = { events: 0, characters: 0, lines: 0 };
  /** Output past the limit: the last of it is kept (up to `TAIL_EVENTS` / `TAIL_TEXT`) and stored after the note at the next flush. */
  private tail: Array<{ event: RunEventData; size: number }> = [];
  private tailSize = 0;

  /** Applied to every event before it is stored (the run's secret values redacted). */
  redact: ((event: RunEventData) => RunEventData) | undefined;

  push(raw: RunEventData): void {
    const { event, size } = capEventText(this.redact ? this.redact(raw) : raw);
    const note = event.type === "log" && PROCESS_CUT_NOTE.test(event.line) && this.notes++ < 10;
    if (OUTPUT_TYPES.has(event.type) && !note) {
      if (this.output >= this.maxOutputPerTurn) {
        this.keepInTail(event, size);
        return;
      }
      this.output += size + EVENT_OVERHEAD;
    }
    this.buffer.push(event);
    // Background flushes keep their failure for the next awaited flush() to report.
    if (this.buffer.length >= this.maxBatch) this.store();
    else this.timer ??= setTimeout(() => this.store(), this.intervalMs);
  }

  private keepInTail(event: RunEventData, size: number): void {
    this.tail.push({ event, size });
    this.tailSize += size;
    while (this.tail.length > TAIL_EVENTS || (this.tailSize > TAIL_TEXT && this.tail.length > 1)) {
      const gone = this.tail.shift()!;
      this.tailSize -= gone.size;
      this.dropped.events++;
      this.dropped.characters += gone.size;
      if (gone.event.type === "log") this.dropped.lines++;
    }
  }

  /**
   * Stores everything pushed so far and waits until it is pushed too (so what
   * the caller publishes next comes after it). Background flushes only store
   * and queue the push: while Redis is down the log keeps growing in Postgres,
   * where viewers catch up from. Rejects if any earlier batch failed to store.
   */
  flush(): Promise<void> {
    if (this.dropped.events > 0) {
      const { events, characters, lines } = this.dropped;
      this.buffer.push({
        type: "log",
        stream: "stderr",
        line:
          `[loopy] output cut: ${characters.toLocaleString("en-US")} characters / ${lines.toLocaleString("en-US")} lines (${events.toLocaleString("en-US")} events) not stored; ` +
          `over ${this.maxOutputPerTurn / 1024 / 1024} MB of output this turn, the last ${this.tail.length.toLocaleString("en-US")} events follow`,
      });
    }
    for (const { event } of this.tail) this.buffer.push(event);
    this.output = 0;
    this.notes = 0;
    this.dropped = { events: 0, characters: 0, lines: 0 };
    this.tail = [];
    this.tailSize = 0;
    this.store();
    return this.flushing.then(async () => {
      await this.publishing;
      if (this.failure) throw this.failure;
    });
  }

  private store(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        const stored = await sinkFor(this.db).append(this.runId, batch);
        this.publishing = this.publishing
          .then(() => this.notifier.runEvents(this.runId, stored))
          .catch(() => undefined);
      } catch (error) {
        this.failure = error as Error;
      }
    });
  }
}

import type { AgentEvent } from "@loopy/agents/events";
import type { Db, Prisma } from "@loopy/db/client";
import type { RunStatus } from "./run-status.ts";
import type { RunNotifier } from "./ports.ts";

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

/** Stores events (one insert) and then pushes them. Storage first: a viewer that connects later replays them. */
export async function appendRunEvents(db: Db | Prisma.TransactionClient, notifier: RunNotifier | null, runId: string, events: RunEventData[]): Promise<StoredRunEvent[]> {
  if (events.length === 0) return [];
  const rows = await db.runEvent.createManyAndReturn({
    data: events.map((event) => ({ runId, type: event.type, data: withoutNul(event) as object })),
    select: { id: true, runId: true, data: true, createdAt: true },
  });
  const stored = rows.map(toStored).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  if (notifier) await notifier.runEvents(runId, stored);
  return stored;
}

/** Postgres text and jsonb cannot hold NUL; a process may print one. */
export function stripNul(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "\uFFFD") : text;
}

/** `value` with NUL characters replaced in every string inside it (Postgres text and jsonb refuse them). */
export function withoutNul<T>(value: T): T {
  if (typeof value === "string") return stripNul(value) as T;
  if (Array.isArray(value)) return value.map(withoutNul) as T;
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNul(v)])) as T;
  return value;
}

/** A run's stored events after `afterId` (exclusive), oldest first. */
export async function listRunEvents(db: Db, runId: string, afterId?: string | null, limit = 1000): Promise<StoredRunEvent[]> {
  const rows = await db.runEvent.findMany({
    where: { runId, ...(afterId ? { id: { gt: BigInt(afterId) } } : {}) },
    orderBy: { id: "asc" },
    take: limit,
    select: { id: true, runId: true, data: true, createdAt: true },
  });
  return rows.map(toStored);
}

/**
 * Collects events and stores them in batches, so a chatty process costs one
 * insert per `intervalMs` instead of one per line. Order is kept.
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
  ) {}

  /** Applied to every event before it is stored (the run's secret values redacted). */
  redact: ((event: RunEventData) => RunEventData) | undefined;

  push(event: RunEventData): void {
    this.buffer.push(this.redact ? this.redact(event) : event);
    // Background flushes keep their failure for the next awaited flush() to report.
    if (this.buffer.length >= this.maxBatch) this.store();
    else this.timer ??= setTimeout(() => this.store(), this.intervalMs);
  }

  /**
   * Stores everything pushed so far and waits until it is pushed too (so what
   * the caller publishes next comes after it). Background flushes only store
   * and queue the push: while Redis is down the log keeps growing in Postgres,
   * where viewers catch up from. Rejects if any earlier batch failed to store.
   */
  flush(): Promise<void> {
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
        const stored = await appendRunEvents(this.db, null, this.runId, batch);
        this.publishing = this.publishing.then(() => this.notifier.runEvents(this.runId, stored)).catch(() => undefined);
      } catch (error) {
        this.failure = error as Error;
      }
    });
  }
}

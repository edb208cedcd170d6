import type { Db, Prisma } from "@loopy/db/client";
import { withoutNul } from "../live/run-events.ts";
import type { ResearchNotifier } from "./ports.ts";

export type LoopStatus = "queued" | "running" | "paused" | "completed" | "failed" | "cancelled";
export type ExperimentKind = "baseline" | "noise" | "candidate" | "confirm";
export type ExperimentStatus = "queued" | "running" | "keep" | "discard" | "crash" | "timeout" | "flagged";

/** What a loop's event log records: state changes only. Step values live in experiment_points. */
export type ResearchEventData =
  | { type: "loop"; status: LoopStatus; reason?: string }
  | { type: "cancel_requested" }
  | {
      type: "experiment";
      experimentId: string;
      index: number;
      kind: ExperimentKind;
      status: ExperimentStatus;
      metric: number | null;
      reason?: string | null;
      description?: string;
      slot?: string | null;
      commit?: string | null;
    }
  | { type: "best"; experimentId: string; index: number; metric: number; commit: string | null }
  | { type: "noise_floor"; value: number; measurements: number };

export interface StoredResearchEvent {
  id: string;
  loopId: string;
  at: string;
  event: ResearchEventData;
}

/** One value of one series at one step. The id orders a loop's points and is a stream's resume point. */
export interface StoredPoint {
  id: string;
  experimentId: string;
  step: number;
  name: string;
  value: number;
}

type Client = Db | Prisma.TransactionClient;

function toStored(row: { id: bigint; loopId: string; data: unknown; createdAt: Date }): StoredResearchEvent {
  return {
    id: row.id.toString(),
    loopId: row.loopId,
    at: row.createdAt.toISOString(),
    event: row.data as ResearchEventData,
  };
}

/** Stores events in one insert; pushes them when a notifier is given (outside a transaction). */
export async function appendResearchEvents(
  db: Client,
  notifier: ResearchNotifier | null,
  loopId: string,
  events: ResearchEventData[],
): Promise<StoredResearchEvent[]> {
  if (events.length === 0) return [];
  const rows = await db.researchEvent.createManyAndReturn({
    data: events.map((event) => ({ loopId, type: event.type, data: withoutNul(event) as object })),
    select: { id: true, loopId: true, data: true, createdAt: true },
  });
  const stored = rows.map(toStored).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  if (notifier) await notifier.loopEvents(loopId, stored);
  return stored;
}

/** A loop's stored events after `afterId` (exclusive), oldest first. */
export async function listResearchEvents(
  db: Db,
  loopId: string,
  afterId?: string | null,
  limit = 1000,
): Promise<StoredResearchEvent[]> {
  const rows = await db.researchEvent.findMany({
    where: { loopId, ...(afterId ? { id: { gt: BigInt(afterId) } } : {}) },
    orderBy: { id: "asc" },
    take: limit,
    select: { id: true, loopId: true, data: true, createdAt: true },
  });
  return rows.map(toStored);
}

/** A loop's stored points after `afterId` (exclusive), oldest first. */
export async function listLoopPoints(
  db: Db,
  loopId: string,
  afterId: string | null,
  limit = 5000,
): Promise<StoredPoint[]> {
  const rows = await db.experimentPoint.findMany({
    where: { loopId, ...(afterId ? { id: { gt: BigInt(afterId) } } : {}) },
    orderBy: { id: "asc" },
    take: limit,
    select: { id: true, experimentId: true, step: true, name: true, value: true },
  });
  return rows.map((r) => ({ ...r, id: r.id.toString() }));
}

/** The id of a loop's newest point, or "0". */
export async function lastPointId(db: Db, loopId: string): Promise<string> {
  const row = await db.experimentPoint.findFirst({ where: { loopId }, orderBy: { id: "desc" }, select: { id: true } });
  return row ? row.id.toString() : "0";
}

/**
 * Collects an experiment's step points and stores them in batches (one insert
 * per `intervalMs`), then pushes each stored batch. Order is kept; a failed
 * batch is reported by the next awaited flush().
 */
export class PointWriter {
  private buffer: Array<{ step: number; name: string; value: number }> = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  /** Points stored so far. */
  stored = 0;

  constructor(
    private readonly db: Db,
    private readonly notifier: ResearchNotifier,
    private readonly loopId: string,
    private readonly experimentId: string,
    private readonly intervalMs = 100,
    private readonly maxBatch = 2000,
  ) {}

  push(step: number, values: Record<string, number>): void {
    for (const [name, value] of Object.entries(values)) this.buffer.push({ step, name, value });
    if (this.buffer.length >= this.maxBatch) this.flush().catch(() => undefined);
    else this.timer ??= setTimeout(() => this.flush().catch(() => undefined), this.intervalMs);
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        const rows = await this.db.experimentPoint.createManyAndReturn({
          data: batch.map((p) => ({ ...p, experimentId: this.experimentId, loopId: this.loopId })),
          select: { id: true, experimentId: true, step: true, name: true, value: true },
        });
        this.stored += rows.length;
        const points = rows
          .map((r) => ({ ...r, id: r.id.toString() }))
          .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
        await this.notifier.points(this.loopId, this.experimentId, points);
      } catch (error) {
        this.failure = error as Error;
      }
    });
    return this.flushing.then(() => {
      if (this.failure) throw this.failure;
    });
  }
}

import { AsyncQueue } from "./async-queue.ts";

/**
 * Every live procedure (runs, research, overview, fleets) streams through this
 * module. Live notifications come over Redis pub/sub, which keeps nothing:
 * what is published while a subscriber is disconnected is lost. Everything a
 * notification carries is stored first, so a stream never depends on them:
 *
 * - `replayThenLive` (streams of stored rows with increasing ids): subscribe
 *   first, then replay the stored rows after the client's cursor, then forward
 *   live rows, each id once. After a resync (the subscriber reconnected, or is
 *   down) it re-reads the store after its cursor; for a while after one, live
 *   rows are taken as a cue to read the store in order rather than trusted
 *   alone (a publisher that reconnects later than the subscriber lost the
 *   publishes before them).
 * - `changesWithResync` (notes that "something changed", for list refetches):
 *   the notes, plus `{ kind: "resync" }` whenever some may have been missed,
 *   so the client refetches everything it shows.
 */

/** Tells a "something changed" stream's client that notes may have been missed: refetch everything. */
export interface Resync {
  kind: "resync";
}
export const RESYNC: Resync = { kind: "resync" };

/** Subscribes to live notifications; resolves once subscribed, with the function that leaves. */
export type Subscribe<M> = (push: (message: M) => void) => Promise<() => Promise<void>>;

/** Where resync cues come from (the process's `Subscriptions`). */
export interface ResyncSource {
  /** Calls `callback` whenever live messages may have been missed; returns the function that stops it. */
  onResync(callback: () => void): () => void;
}

/** One kind of stored row a stream carries, with its own cursor. */
export interface StoredSource<T> {
  /** Rows with an id above `after` (exclusive; null: from the first), oldest first, at most `limit`. */
  read(after: string | null, limit: number): Promise<T[]>;
  /** A row's id: a decimal integer (a Postgres serial), increasing in the order rows are stored. */
  id(item: T): string;
  /** The client's cursor: rows up to this id were sent before (null: none). */
  after: string | null;
  /** Rows per read; default 1000. */
  pageSize?: number;
}

/** Rows of one source, fresh and in id order. */
export type LiveBatch<S> = { [K in keyof S]: { source: K; items: S[K][] } }[keyof S];

export interface ReplayThenLiveOptions<S extends Record<string, unknown>> {
  /** Ends the stream (the client went away). */
  signal: AbortSignal | undefined;
  /** The stored rows, replayed in this order (each source completely) before live rows. */
  sources: { [K in keyof S]: StoredSource<S[K]> };
  /** Live rows, tagged with their source; subscribed before anything is read, so nothing falls between replay and live. */
  subscribe: Subscribe<LiveBatch<S>>;
  resyncs: ResyncSource;
  /** How long after a resync live rows are read from the store in order instead of trusted alone. */
  settleMs: number;
  /** Called once, after subscribing and before the first read (e.g. to set a source's default `after`). */
  ready?: () => Promise<void>;
}

/** How many sent ids each source remembers to recognise a live row already replayed (or a late commit). */
const REMEMBERED = 10_000;

const above = (a: string, b: string | null) => b === null || BigInt(a) > BigInt(b);

/** What one source has sent: the highest id, and the recent ids (all above `floor`). */
class Sent {
  private ids = new Set<string>();
  private order: string[] = [];
  /** The highest id sent (or the client's cursor). */
  last: string | null;
  /** Every id at or below it counts as sent: the client's cursor, or ids forgotten. */
  private floor: string | null;

  constructor(after: string | null) {
    this.last = after;
    this.floor = after;
  }

  /** Not sent yet: above the cursor, or a late commit below it (a row stored after a higher id was sent). */
  isNew(id: string): boolean {
    return !this.ids.has(id) && above(id, this.floor);
  }

  add(id: string): void {
    this.ids.add(id);
    this.order.push(id);
    if (above(id, this.last)) this.last = id;
    if (this.order.length > REMEMBERED) {
      const forgotten = this.order.splice(0, this.order.length - REMEMBERED);
      for (const old of forgotten) {
        this.ids.delete(old);
        if (above(old, this.floor)) this.floor = old;
      }
    }
  }
}

const RESYNC_CUE = Symbol("resync");

/**
 * Stored rows after each source's cursor, then live ones as they are stored;
 * every row once, each source in id order (a row committed late may follow
 * a higher id). Yields batches of one source.
 */
export async function* replayThenLive<S extends Record<string, unknown>>(
  options: ReplayThenLiveOptions<S>,
): AsyncGenerator<LiveBatch<S>> {
  const names = Object.keys(options.sources) as Array<keyof S & string>;
  const live = new AsyncQueue<LiveBatch<S> | typeof RESYNC_CUE>(options.signal);
  const leave = await options.subscribe((rows) => live.push(rows));
  // Messages missed while Redis was away never arrive: read what they carried from the store.
  const stopResyncs = options.resyncs.onResync(() => live.push(RESYNC_CUE));
  try {
    await options.ready?.();
    const sent = Object.fromEntries(names.map((name) => [name, new Sent(options.sources[name].after)])) as Record<
      keyof S,
      Sent
    >;

    async function* stored<K extends keyof S & string>(name: K): AsyncGenerator<LiveBatch<S>> {
      const source = options.sources[name];
      const limit = source.pageSize ?? 1000;
      for (;;) {
        const page = await source.read(sent[name].last, limit);
        const fresh = page.filter((item) => sent[name].isNew(source.id(item)));
        for (const item of fresh) sent[name].add(source.id(item));
        if (fresh.length) yield { source: name, items: fresh } as LiveBatch<S>;
        if (page.length < limit) return;
      }
    }
    async function* storedAll(): AsyncGenerator<LiveBatch<S>> {
      for (const name of names) yield* stored(name);
    }

    yield* storedAll();
    let settleUntil = 0;
    for await (const message of live) {
      if (message === RESYNC_CUE) {
        settleUntil = Date.now() + options.settleMs;
        yield* storedAll();
        continue;
      }
      const name = message.source as keyof S & string;
      const source = options.sources[name];
      const isNew = (item: S[typeof name]) => sent[name].isNew(source.id(item));
      const fresh = (message.items as S[typeof name][]).filter(isNew);
      if (fresh.length === 0) continue;
      // Shortly after a resync, publishes before this one may have been lost: read the store up to it, in order.
      if (Date.now() < settleUntil && fresh.some((item) => above(source.id(item), sent[name].last)))
        yield* stored(name);
      // What is left: rows committed late, below ids already sent (the store's cursor is past them).
      const rest = fresh.filter(isNew);
      if (rest.length === 0) continue;
      for (const item of rest) sent[name].add(source.id(item));
      yield { source: name, items: rest } as LiveBatch<S>;
    }
  } finally {
    stopResyncs();
    await leave();
  }
}

/**
 * "Something changed" notes, and `RESYNC` whenever some may have been missed
 * (after the subscriber reconnects, and every few seconds while it is down),
 * so the client refetches. Resyncs not yet taken by the client count once.
 */
export async function* changesWithResync<T>(options: {
  signal: AbortSignal | undefined;
  subscribe: Subscribe<T>;
  resyncs: ResyncSource;
}): AsyncGenerator<T | Resync> {
  const live = new AsyncQueue<T | typeof RESYNC_CUE>(options.signal);
  let resyncPending = false;
  const leave = await options.subscribe((change) => live.push(change));
  const stopResyncs = options.resyncs.onResync(() => {
    if (resyncPending) return;
    resyncPending = true;
    live.push(RESYNC_CUE);
  });
  try {
    for await (const item of live) {
      if (item === RESYNC_CUE) {
        resyncPending = false;
        yield RESYNC;
      } else yield item;
    }
  } finally {
    stopResyncs();
    await leave();
  }
}

/** Subscribes to several channels as one; leaves all of them (also those joined when a later one fails). */
export function subscribeAll<M>(...subscribes: Array<Subscribe<M>>): Subscribe<M> {
  return async (push) => {
    const leaves: Array<() => Promise<void>> = [];
    const leaveAll = async () => {
      for (const leave of leaves) await leave();
    };
    try {
      for (const subscribe of subscribes) leaves.push(await subscribe(push));
    } catch (error) {
      await leaveAll();
      throw error;
    }
    return leaveAll;
  };
}

import type { Redis } from "ioredis";
import type { RunNotifier } from "@loopy/core/shared";
import type { StoredRunEvent } from "@loopy/core/live";
import { latestActivity } from "@loopy/core/live";

/**
 * Live notifications over Redis pub/sub. They carry only what is already in
 * Postgres, so a missed message costs latency, never data: subscribers replay
 * from the database by event id.
 */
const channels = {
  runEvents: (prefix: string, runId: string) => `${prefix}:run-events:${runId}`,
  runs: (prefix: string) => `${prefix}:runs`,
  cancel: (prefix: string) => `${prefix}:cancel`,
  fleets: (prefix: string) => `${prefix}:fleets`,
  /** One compact line per stored batch of any run's events, for the overview. */
  activity: (prefix: string) => `${prefix}:activity`,
};

/** What the overview needs from a batch of a run's events: its latest line. */
export interface RunActivity {
  runId: string;
  line: string;
  at: string;
}

export interface RunChange {
  runId: string;
  status: string;
}

export interface FleetChange {
  fleetId: string;
  status: string;
}

/**
 * Publishes stored events and run changes. Best effort by design: the data is
 * already in Postgres, so a failed publish is logged, never thrown into the
 * code that changed the run.
 */
export function createRunNotifier(
  publisher: Redis,
  prefix: string,
  log: (message: string) => void = console.error,
): RunNotifier {
  const publish = async (channel: string, message: string) => {
    try {
      await publisher.publish(channel, message);
    } catch (error) {
      log(`[loopy] could not publish on ${channel}: ${(error as Error).message}`);
    }
  };
  return {
    async runEvents(runId, events) {
      if (events.length === 0) return;
      await publish(channels.runEvents(prefix, runId), JSON.stringify(events));
      const latest = latestActivity(events);
      if (latest) await publish(channels.activity(prefix), JSON.stringify({ runId, ...latest } satisfies RunActivity));
    },
    async runChanged(runId, status) {
      await publish(channels.runs(prefix), JSON.stringify({ runId, status } satisfies RunChange));
    },
    async fleetChanged(fleetId, status) {
      await publish(channels.fleets(prefix), JSON.stringify({ fleetId, status } satisfies FleetChange));
    },
  };
}

export async function publishCancel(publisher: Redis, prefix: string, runId: string): Promise<void> {
  await publisher.publish(channels.cancel(prefix), runId);
}

type Listener = (message: string) => void;

/** Re-reads after a reconnect, for publishers (other connections) that come back later than the subscriber. */
const SETTLE_RESYNCS_MS = [1_000, 3_000, 6_000, 10_000];
/** How long after a re-read live messages are read from Postgres in order rather than trusted alone. */
export const RESYNC_SETTLE_MS = 12_000;

/**
 * One subscriber connection per process, shared by every listener (each SSE
 * stream, the worker's cancel handler), with reference-counted channels.
 */
export class Subscriptions {
  private listeners = new Map<string, Set<Listener>>();
  /** The SUBSCRIBE in flight (or done) for each channel; every listener waits for it. */
  private subscribed = new Map<string, Promise<unknown>>();
  private resyncs = new Set<() => void>();
  private connected: boolean;
  private poll: NodeJS.Timeout | undefined;

  /**
   * `pollMs`: while the subscriber is disconnected, how often `onResync`
   * listeners are told to read what they missed from Postgres themselves.
   */
  constructor(
    private readonly subscriber: Redis,
    private readonly pollMs = 1_000,
  ) {
    this.connected = subscriber.status === "ready";
    subscriber.on("message", (channel: string, message: string) => {
      for (const listener of this.listeners.get(channel) ?? []) listener(message);
    });
    // Messages published while the connection was down are lost (pub/sub keeps nothing): after a
    // reconnect, and every pollMs while it lasts, listeners re-read from Postgres, where every event is first.
    subscriber.on("close", () => {
      if (!this.connected) return;
      this.connected = false;
      this.poll ??= setInterval(() => this.resync(), this.pollMs);
      this.poll.unref?.();
    });
    subscriber.on("ready", () => {
      const wasDown = this.poll !== undefined;
      this.connected = true;
      if (!wasDown) return;
      void this.afterReconnect();
    });
  }

  private async afterReconnect(): Promise<void> {
    // ioredis re-subscribes by itself; subscribing again and waiting for the reply means Redis has
    // confirmed it, so whatever is published from now on arrives, and a re-read misses nothing before.
    const channels = [...this.listeners.keys()];
    // ioredis re-subscribes by itself anyway; a confirmation that fails (Redis down again) leaves `connected`
    // false and the poll running.
    if (channels.length) await this.subscriber.subscribe(...channels).catch(() => undefined);
    if (!this.connected) return;
    clearInterval(this.poll);
    this.poll = undefined;
    this.resync();
    // The publishers are other connections (in the worker) that may come back a little later than
    // this one: what they failed to publish until then is in Postgres only. Read again a few times.
    for (const ms of SETTLE_RESYNCS_MS) setTimeout(() => this.resync(), ms).unref?.();
  }

  private resync(): void {
    for (const callback of this.resyncs) callback();
  }

  /**
   * Called when live messages may have been missed: after the subscriber
   * reconnected (once the subscriptions are confirmed again), and every few
   * seconds while it is disconnected. Returns a function that stops it.
   */
  onResync(callback: () => void): () => void {
    this.resyncs.add(callback);
    return () => this.resyncs.delete(callback);
  }

  /**
   * Resolves once Redis has confirmed the subscription, so a replay that follows misses nothing
   * (during an outage at once: the reconnect's resync covers it). Call the returned function to leave.
   */
  async listen(channel: string, listener: Listener): Promise<() => Promise<void>> {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(listener);
    let ready = this.subscribed.get(channel);
    if (!ready) {
      ready = this.subscriber.subscribe(channel);
      this.subscribed.set(channel, ready);
      // Nobody may wait for it (below); a failure is seen by the next listener, which subscribes again.
      ready.catch(() => {
        if (this.subscribed.get(channel) === ready) this.subscribed.delete(channel);
      });
    }
    // Down after having been up: the SUBSCRIBE waits for Redis, but the reconnect re-subscribes every
    // listener's channel and then resyncs (and so does the poll meanwhile), so the caller need not wait:
    // a stream opened during an outage replays from Postgres at once instead of hanging until Redis is back.
    if (!this.connected && this.poll !== undefined) return this.leaver(channel, listener);
    try {
      await ready;
    } catch (error) {
      set.delete(listener);
      if (this.subscribed.get(channel) === ready) this.subscribed.delete(channel);
      throw error;
    }
    return this.leaver(channel, listener);
  }

  private leaver(channel: string, listener: Listener): () => Promise<void> {
    return async () => {
      const current = this.listeners.get(channel);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) {
        this.listeners.delete(channel);
        this.subscribed.delete(channel);
        // A failed UNSUBSCRIBE only leaves messages for a channel nobody listens to, which are dropped.
        const done = this.subscriber.unsubscribe(channel).catch(() => undefined);
        // During an outage the UNSUBSCRIBE waits for Redis: a stream that ends meanwhile need not.
        if (this.connected) await done;
      }
    };
  }

  listenRunEvents(prefix: string, runId: string, onEvents: (events: StoredRunEvent[]) => void) {
    return this.listen(channels.runEvents(prefix, runId), (m) => onEvents(JSON.parse(m) as StoredRunEvent[]));
  }

  listenRunChanges(prefix: string, onChange: (change: RunChange) => void) {
    return this.listen(channels.runs(prefix), (m) => onChange(JSON.parse(m) as RunChange));
  }

  listenFleetChanges(prefix: string, onChange: (change: FleetChange) => void) {
    return this.listen(channels.fleets(prefix), (m) => onChange(JSON.parse(m) as FleetChange));
  }

  listenActivity(prefix: string, onActivity: (activity: RunActivity) => void) {
    return this.listen(channels.activity(prefix), (m) => onActivity(JSON.parse(m) as RunActivity));
  }

  listenCancels(prefix: string, onCancel: (runId: string) => void) {
    return this.listen(channels.cancel(prefix), onCancel);
  }
}

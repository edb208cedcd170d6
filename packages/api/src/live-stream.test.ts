import { describe, expect, it } from "vitest";
import { changesWithResync, RESYNC, replayThenLive, type ResyncSource } from "./live-stream.ts";

/** Rows "stored" in memory; publishing is separate, so a test can lose a publish like Redis does. */
function setup(after: string | null = null) {
  const rows: Array<{ id: string }> = [];
  let push: ((batch: { source: "rows"; items: Array<{ id: string }> }) => void) | undefined;
  const callbacks = new Set<() => void>();
  const resyncs: ResyncSource = {
    onResync: (callback) => {
      callbacks.add(callback);
      return () => callbacks.delete(callback);
    },
  };
  const controller = new AbortController();
  let left = false;
  const stream = replayThenLive<{ rows: { id: string } }>({
    signal: controller.signal,
    sources: {
      rows: {
        read: async (from, limit) => rows.filter((r) => from === null || BigInt(r.id) > BigInt(from)).slice(0, limit),
        id: (r) => r.id,
        after,
        pageSize: 2,
      },
    },
    subscribe: async (p) => {
      push = p;
      return async () => {
        left = true;
      };
    },
    resyncs,
    settleMs: 60_000,
  });
  const got: string[] = [];
  const reading = (async () => {
    for await (const batch of stream) got.push(...batch.items.map((r) => r.id));
  })();
  const store = (...ids: string[]) => {
    for (const id of ids) rows.push({ id });
    rows.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  };
  const publish = (...ids: string[]) => push?.({ source: "rows", items: ids.map((id) => ({ id })) });
  const resync = () => {
    for (const c of callbacks) c();
  };
  const settle = () => new Promise((r) => setTimeout(r, 20));
  const end = async () => {
    controller.abort();
    await reading;
    return { left, resyncListeners: callbacks.size };
  };
  return { got, store, publish, resync, settle, end };
}

describe("replayThenLive", () => {
  it("replays after the cursor (in pages), then forwards live rows, each once", async () => {
    const s = setup("1");
    s.store("1", "2", "3", "4", "5");
    await s.settle();
    s.publish("4", "5");
    s.store("6");
    s.publish("6");
    s.publish("6");
    await s.settle();
    expect(s.got).toEqual(["2", "3", "4", "5", "6"]);
    expect(await s.end()).toEqual({ left: true, resyncListeners: 0 });
  });

  it("after a resync reads what was never published, and for a while reads the store in order up to a live row", async () => {
    const s = setup();
    s.store("1");
    await s.settle();
    // Published while Redis was away: lost.
    s.store("2", "3");
    s.resync();
    await s.settle();
    expect(s.got).toEqual(["1", "2", "3"]);
    // The publisher is back later than the subscriber: 4's publish was lost, 5's arrives.
    s.store("4", "5");
    s.publish("5");
    await s.settle();
    expect(s.got).toEqual(["1", "2", "3", "4", "5"]);
    await s.end();
  });

  it("forwards a row committed late (below an id already sent) once", async () => {
    const s = setup();
    s.store("10", "12");
    await s.settle();
    s.store("11");
    s.publish("11");
    s.publish("11");
    s.resync();
    await s.settle();
    expect(s.got).toEqual(["10", "12", "11"]);
    await s.end();
  });
});

describe("changesWithResync", () => {
  it("passes notes through and adds one resync per burst of resync cues", async () => {
    const callbacks = new Set<() => void>();
    let push: ((n: string) => void) | undefined;
    const controller = new AbortController();
    const stream = changesWithResync<string>({
      signal: controller.signal,
      subscribe: async (p) => {
        push = p;
        return async () => undefined;
      },
      resyncs: {
        onResync: (c) => {
          callbacks.add(c);
          return () => callbacks.delete(c);
        },
      },
    });
    const first = stream.next();
    await new Promise((r) => setTimeout(r, 10));
    push?.("a");
    for (const c of callbacks) c();
    for (const c of callbacks) c();
    push?.("b");
    expect((await first).value).toBe("a");
    expect((await stream.next()).value).toEqual(RESYNC);
    expect((await stream.next()).value).toBe("b");
    for (const c of callbacks) c();
    expect((await stream.next()).value).toEqual(RESYNC);
    controller.abort();
    expect((await stream.next()).done).toBe(true);
    expect(callbacks.size).toBe(0);
  });
});

import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listRunEvents, RunEventWriter, type StoredRunEvent } from "@loopy/core/live";
import { createHarness, makeRepo, type Harness } from "./harness.ts";

/**
 * Many runs' writers share one insert at a time (the process's event sink):
 * each run's events are stored whole and in order, each writer is told about
 * its own rows only, and one run's failing batch fails only that run's writer.
 */
describe("run events from many runs at once", () => {
  let h: Harness;
  let runIds: string[];

  beforeAll(async () => {
    h = await createHarness();
    const repo = await makeRepo();
    const project = (await h.api.projects.add({ path: repo, name: `events-${path.basename(repo)}` })).name;
    // Queued runs (no worker here): rows to hang events on.
    runIds = [];
    for (let i = 0; i < 30; i++)
      runIds.push((await h.api.runs.launch({ project, agent: "command", command: "true" })).id);
  });
  afterAll(() => h?.close());

  it("stores 30 runs × 400 interleaved events in each run's order, and pushes each run only its own", async () => {
    const pushed = new Map<string, StoredRunEvent[]>();
    const notifier = {
      runEvents: async (runId: string, events: StoredRunEvent[]) =>
        void pushed.set(runId, [...(pushed.get(runId) ?? []), ...events]),
      runChanged: async () => {},
    };
    // A tiny interval and batch: many small appends from every writer, overlapping in the sink.
    const writers = runIds.map((id) => new RunEventWriter(h.services.db, notifier, id, 1, 7));
    for (let line = 0; line < 400; line++) {
      for (const [i, writer] of writers.entries())
        writer.push({ type: "log", stream: "stdout", line: `run ${i} line ${line}` });
      if (line % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(writers.map((w) => w.flush()));

    for (const [i, id] of runIds.entries()) {
      const stored = (await listRunEvents(h.services.db, id, null, 1000)).filter((e) => e.event.type === "log");
      const expected = Array.from({ length: 400 }, (_, line) => `run ${i} line ${line}`);
      expect(
        stored.map((e) => (e.event.type === "log" ? e.event.line : "")),
        `run ${i}`,
      ).toEqual(expected);
      expect((pushed.get(id) ?? []).map((e) => e.id)).toEqual(stored.map((e) => e.id));
    }
  });

  it("a batch for a run that no longer exists fails that run's writer only", async () => {
    const noop = { runEvents: async () => {}, runChanged: async () => {} };
    const keep = runIds[0]!;
    const good = new RunEventWriter(h.services.db, noop, keep, 5);
    const bad = new RunEventWriter(h.services.db, noop, "zzzzzzzzzzzzzzzzzzzz", 5);
    for (let i = 0; i < 20; i++) {
      good.push({ type: "message", text: `kept ${i}` });
      bad.push({ type: "message", text: `lost ${i}` });
    }
    const results = await Promise.allSettled([good.flush(), bad.flush()]);
    expect(results[0].status).toBe("fulfilled");
    expect(results[1].status).toBe("rejected");
    const kept = (await listRunEvents(h.services.db, keep, null, 5000)).filter((e) => e.event.type === "message");
    expect(kept.map((e) => (e.event.type === "message" ? e.event.text : ""))).toEqual(
      Array.from({ length: 20 }, (_, i) => `kept ${i}`),
    );
  });
});

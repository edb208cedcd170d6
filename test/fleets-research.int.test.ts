import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, eventually, makeRepo, type Harness } from "./harness.ts";

/** Each experiment runs ~0.4 s and scores its params; it logs when it starts and ends, for the overlap check. */
const EXPERIMENT = `
import { appendFileSync, readFileSync } from "node:fs";
const p = JSON.parse(readFileSync("loopy.params.json", "utf8"));
const log = process.env.OVERLAP_LOG;
const me = process.env.LOOPY_EXPERIMENT_ID;
appendFileSync(log, "start " + me + " " + Date.now() + "\\n");
setTimeout(() => {
  appendFileSync(log, "end " + me + " " + Date.now() + "\\n");
  console.log("---");
  console.log("score: " + ((p.x - 0.3) ** 2).toFixed(6));
}, 400);
`;

describe("research fleets", () => {
  let h: Harness;
  let project: string;

  beforeAll(async () => {
    h = await createHarness();
    const repo = await makeRepo({ "exp.mjs": EXPERIMENT, "loopy.params.json": '{ "x": 0.9 }\n' });
    project = (await h.api.projects.add({ path: repo, name: `rfleet-${path.basename(repo)}` })).name;
    await h.startResearchWorker({ concurrency: 4 });
  });
  afterAll(() => h?.close());

  const loopSettings = (overlapLog: string) => ({
    command: `OVERLAP_LOG=${overlapLog} node exp.mjs`,
    metric: "score",
    direction: "min" as const,
    budget: "10s",
    maxExperiments: 2,
    noiseRepeats: 0,
    optimizer: "random" as const,
    space: { x: { type: "float", low: 0, high: 1 } },
    seed: 10,
  });

  it("runs N loops with seeds and proposers varied, at most `concurrency` at once, ranks them by best metric and completes", async () => {
    const overlapLog = path.join(h.home, "overlap.log");
    const fleet = await h.api.fleets.launch({
      kind: "research",
      project,
      count: 3,
      concurrency: 2,
      research: loopSettings(overlapLog),
      proposers: [{ optimizer: "tpe" }, { optimizer: "random" }],
    });
    expect(fleet.kind).toBe("research");
    expect(fleet.loops.map((l) => [l.memberIndex, l.proposer, l.seed])).toEqual([
      [0, "tpe", 10],
      [1, "random", 11],
      [2, "tpe", 12],
    ]);
    // Only two were queued for workers; the third waits in Postgres.
    const rows = await h.services.db.researchLoop.findMany({
      where: { fleetId: fleet.id },
      orderBy: { memberIndex: "asc" },
    });
    expect(rows.map((r) => r.dispatchedAt !== null)).toEqual([true, true, false]);

    const done = await eventually(
      async () => {
        const f = await h.api.fleets.get({ fleetId: fleet.id });
        return f.status === "completed" ? f : undefined;
      },
      90_000,
      "the research fleet to complete",
    );
    expect(done.progress).toMatchObject({ total: 3, finished: 3 });
    expect(done.loops.every((l) => l.status === "completed" && l.bestMetric !== null)).toBe(true);
    expect(done.loops.map((l) => l.rank).sort()).toEqual([1, 2, 3]);
    const best = done.loops.find((l) => l.rank === 1)!;
    expect(Math.min(...done.loops.map((l) => l.bestMetric!))).toBe(best.bestMetric);

    // Never more than two loops' experiments at the same time (each loop runs one at a time).
    const { readFile } = await import("node:fs/promises");
    const events = (await readFile(overlapLog, "utf8"))
      .trim()
      .split("\n")
      .map((l) => l.split(" "))
      .map(([kind, , at]) => ({ kind, at: Number(at) }));
    let running = 0;
    let peak = 0;
    for (const e of events.sort((a, b) => a.at - b.at || (a.kind === "end" ? -1 : 1))) {
      running += e.kind === "start" ? 1 : -1;
      peak = Math.max(peak, running);
    }
    expect(peak).toBeLessThanOrEqual(2);
    expect(peak).toBe(2);
  }, 120_000);

  it("stops every loop when the wall-clock budget is spent, and cancel ends a fleet's loops", async () => {
    const overlapLog = path.join(h.home, "budget.log");
    const fleet = await h.api.fleets.launch({
      kind: "research",
      project,
      count: 2,
      concurrency: 2,
      research: { ...loopSettings(overlapLog), maxExperiments: 50 },
      budget: { wallClock: "3s" },
    });
    const stopped = await eventually(
      async () => {
        const f = await h.api.fleets.get({ fleetId: fleet.id });
        return f.status === "failed" ? f : undefined;
      },
      30_000,
      "the budget stop",
    );
    expect(stopped.statusReason).toMatch(/^fleet budget spent: wall clock/);
    await eventually(
      async () =>
        (await h.api.fleets.get({ fleetId: fleet.id })).loops.every((l) => l.status === "cancelled") ? true : undefined,
      20_000,
      "every loop cancelled",
    );

    const other = await h.api.fleets.launch({
      kind: "research",
      project,
      count: 2,
      concurrency: 1,
      research: { ...loopSettings(overlapLog), maxExperiments: 50 },
    });
    const cancelled = await h.api.fleets.cancel({ fleetId: other.id });
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.loops.every((l) => l.status === "cancelled")).toBe(true);
  }, 90_000);

  it("refuses a bad research fleet before writing anything", async () => {
    const before = await h.services.db.fleet.count();
    await expect(
      h.api.fleets.launch({
        kind: "research",
        project,
        count: 2,
        research: { ...loopSettings("/tmp/x"), metric: "bad metric!" },
      }),
    ).rejects.toThrow(/Member 0 \(.*\): Metric must be/);
    await expect(
      h.api.fleets.launch({ kind: "research", project, count: 0, research: loopSettings("/tmp/x") }),
    ).rejects.toThrow(/1 to 100 loops/);
    expect(await h.services.db.fleet.count()).toBe(before);
  });
});

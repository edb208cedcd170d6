import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, eventually, makeRepo, type Harness } from "./harness.ts";

/** 300 ms of "training"; the score is the param plus a little seed noise. */
const EXPERIMENT = `
const p = JSON.parse(process.env.LOOPY_PARAMS);
setTimeout(() => console.log("score: " + (p.x + 0.0001 * (Number(process.env.SEED) % 2)).toFixed(6)), 300);
`;

describe("research loops sharing slots, confirm re-runs, limits", () => {
  let h: Harness;
  let project: string;

  beforeAll(async () => {
    h = await createHarness();
    const repo = await makeRepo({ "exp.mjs": EXPERIMENT, "loopy.params.json": '{ "x": 0.9 }\n' });
    project = (await h.api.projects.add({ path: repo, name: `slots-${path.basename(repo)}` })).name;
    await h.startResearchWorker({ concurrency: 2 });
  });
  afterAll(() => h?.close());

  const base = {
    command: "node exp.mjs",
    metric: "score",
    direction: "min" as const,
    budget: "10s",
    optimizer: "random" as const,
    space: { x: { type: "float", low: 0, high: 1 } },
  };
  const settled = (loopId: string) =>
    eventually(
      async () => {
        const loop = await h.api.research.get({ loopId });
        return ["completed", "failed", "cancelled"].includes(loop.status) ? loop : undefined;
      },
      60_000,
      `loop ${loopId} to end`,
    );

  it("two loops on one project take turns on a single slot; the times never overlap", async () => {
    const [a, b] = await Promise.all([
      h.api.research.create({ ...base, project, maxExperiments: 3, noiseRepeats: 0, slots: ["gpu7"], seed: 1 }),
      h.api.research.create({ ...base, project, maxExperiments: 3, noiseRepeats: 0, slots: ["gpu7"], seed: 2 }),
    ]);
    // Both run at once (one worker, two loops), so their experiments queue for the slot.
    await eventually(
      async () =>
        (await h.api.research.get({ loopId: b.id })).status === "running" &&
        (await h.api.research.get({ loopId: a.id })).status === "running"
          ? true
          : undefined,
      15_000,
      "both loops running",
    );
    await Promise.all([settled(a.id), settled(b.id)]);
    const usage = await h.api.research.slots({ project });
    expect(usage.slots).toEqual([{ name: "gpu7", busy: null }]);
    const intervals = usage.intervals.filter((i) => i.slot === "gpu7");
    expect(intervals).toHaveLength(8);
    expect(new Set(intervals.map((i) => i.loopId))).toEqual(new Set([a.id, b.id]));
    const sorted = [...intervals].sort((x, y) => x.start.getTime() - y.start.getTime());
    for (let k = 1; k < sorted.length; k++)
      expect(sorted[k]!.start.getTime()).toBeGreaterThanOrEqual(sorted[k - 1]!.end!.getTime());
    // The leases are gone once the experiments ended.
    expect(await h.services.db.researchSlotLease.count()).toBe(0);
  }, 60_000);

  it("confirms a promising candidate with re-runs on other seeds before keeping it", async () => {
    const loop = await settled(
      (await h.api.research.create({ ...base, project, maxExperiments: 2, noiseRepeats: 1, confirmRuns: 2, seed: 4 }))
        .id,
    );
    const experiments = await h.api.research.experiments({ loopId: loop.id });
    const baselineMean = (0.9 + 0.9001) / 2;
    const candidates = experiments.filter((e) => e.kind === "candidate");
    expect(candidates).toHaveLength(2);
    for (const c of candidates) {
      const confirms = experiments.filter((e) => e.confirmsId === c.id);
      if (c.status === "keep") {
        expect(confirms.map((e) => e.seed)).toEqual([5, 6]);
        expect(confirms.every((e) => e.kind === "confirm" && e.status === "keep" && e.commitSha === c.commitSha)).toBe(
          true,
        );
        expect(c.reason).toMatch(/^mean of 3 runs/);
      } else {
        expect(confirms).toEqual([]);
      }
    }
    // The baseline is judged on its mean too when confirm re-runs are on.
    // Seed 4 proposes x well below the baseline's 0.9 first: that one is confirmed and kept.
    const kept = candidates.filter((c) => c.status === "keep");
    expect(kept.length).toBeGreaterThan(0);
    expect(candidates[0]!.metricValue!).toBeLessThan(baselineMean);
    const last = kept.at(-1)!;
    const values = [last, ...experiments.filter((e) => e.confirmsId === last.id)].map((e) => e.metricValue!);
    expect(values).toHaveLength(3);
    expect(loop.bestMetric).toBeCloseTo(values.reduce((s, v) => s + v, 0) / values.length, 10);
    // The running best the progression chart draws agrees with the loop's judgement.
    expect(experiments.at(-1)!.bestSoFar).toBeCloseTo(loop.bestMetric!, 10);
    expect(experiments[0]!.bestSoFar).toBeCloseTo(baselineMean, 10);
    const noise = experiments.find((e) => e.kind === "noise")!;
    expect(noise.seed).toBe(5);
  }, 60_000);

  it("stops at the wall-clock limit", async () => {
    const loop = await settled(
      (await h.api.research.create({ ...base, project, noiseRepeats: 0, wallClock: "1500ms" })).id,
    );
    expect(loop).toMatchObject({
      status: "completed",
      statusReason: "Reached the wall-clock limit",
      maxExperiments: null,
    });
    const experiments = await h.api.research.experiments({ loopId: loop.id });
    expect(experiments.length).toBeGreaterThanOrEqual(2);
    expect(experiments.every((e) => !["queued", "running"].includes(e.status))).toBe(true);
  }, 60_000);
});

import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, eventually, makeRepo, type Harness } from "./harness.ts";

/** Each experiment takes about a second and prints its params' score. */
const EXPERIMENT = `
import { readFileSync } from "node:fs";
const p = JSON.parse(readFileSync("loopy.params.json", "utf8"));
setTimeout(() => { console.log("---"); console.log("score: " + ((p.x - 0.3) ** 2).toFixed(6)); }, 800);
`;

describe("research loop pause and resume", () => {
  let h: Harness;
  let project: string;

  beforeAll(async () => {
    h = await createHarness();
    const repo = await makeRepo({ "exp.mjs": EXPERIMENT, "loopy.params.json": '{ "x": 0.9 }\n' });
    project = (await h.api.projects.add({ path: repo, name: `pause-${path.basename(repo)}` })).name;
    await h.startResearchWorker();
  });
  afterAll(() => h?.close());

  it("lets the experiment in progress finish, starts none while paused, and goes on from where it was after resume", async () => {
    const loop = await h.api.research.create({
      project,
      command: "node exp.mjs",
      metric: "score",
      direction: "min",
      budget: "10s",
      maxExperiments: 4,
      noiseRepeats: 0,
      optimizer: "random",
      space: { x: { type: "float", low: 0, high: 1 } },
      seed: 3,
    });
    const running = await eventually(
      async () => {
        const list = await h.api.research.experiments({ loopId: loop.id });
        return list.find((e) => e.status === "running" && e.kind === "candidate");
      },
      30_000,
      "a candidate to be running",
    );

    const paused = await h.api.research.pause({ loopId: loop.id });
    expect(paused.status).toBe("paused");
    // The running experiment is not killed: it ends with its metric.
    const finished = await eventually(
      async () => {
        const e = (await h.api.research.experiments({ loopId: loop.id })).find((x) => x.id === running.id);
        return e && e.status !== "running" ? e : undefined;
      },
      15_000,
      "the running experiment to end",
    );
    expect(["keep", "discard", "flagged"]).toContain(finished.status);
    expect(finished.metricValue).not.toBeNull();
    // The worker let go; nothing new starts while paused.
    await eventually(
      async () =>
        (await h.services.db.researchLoop.findUnique({ where: { id: loop.id } }))?.holder === null ? true : undefined,
      10_000,
      "the worker to let go",
    );
    const count = (await h.api.research.experiments({ loopId: loop.id })).length;
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await h.api.research.experiments({ loopId: loop.id })).length).toBe(count);
    expect((await h.api.research.get({ loopId: loop.id })).status).toBe("paused");
    await expect(h.api.research.resume({ loopId: "nosuchloop" })).rejects.toThrow(/No research loop|not found/i);

    await h.api.research.resume({ loopId: loop.id });
    const done = await eventually(
      async () => {
        const l = await h.api.research.get({ loopId: loop.id });
        return ["completed", "failed", "cancelled"].includes(l.status) ? l : undefined;
      },
      60_000,
      "the loop to end",
    );
    expect(done.status).toBe("completed");
    const all = await h.api.research.experiments({ loopId: loop.id });
    expect(all.filter((e) => e.kind === "candidate")).toHaveLength(4);
    expect(all.every((e) => e.attempt === 1 && e.status !== "crash")).toBe(true);
  }, 120_000);

  it("refuses to pause a loop that has ended, saying why", async () => {
    const loop = await h.api.research.create({
      project,
      command: "node exp.mjs",
      metric: "score",
      direction: "min",
      budget: "10s",
      maxExperiments: 1,
      noiseRepeats: 0,
      optimizer: "random",
      space: { x: { type: "float", low: 0, high: 1 } },
    });
    await h.api.research.cancel({ loopId: loop.id });
    await expect(h.api.research.pause({ loopId: loop.id })).rejects.toThrow(
      /is cancelled; only a queued or running loop can be paused/,
    );
    await expect(h.api.research.resume({ loopId: loop.id })).rejects.toThrow(/only a paused loop can be resumed/);
  });
});

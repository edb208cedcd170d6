import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { noiseFloor } from "@loopy/research-math/decide";
import { startFakeModelServer } from "@loopy/fake-models/server";
import { createHarness, eventually, gitIn, makeRepo, type Harness } from "./harness.ts";

/**
 * A tiny experiment whose score depends on its params (best at x = 0.3) and a
 * little on SEED (the noise the baseline repeats measure). The loop's index
 * decides two misbehaviours the test needs: a crash and a run past the budget.
 */
const EXPERIMENT = `
import { readFileSync } from "node:fs";
const p = JSON.parse(readFileSync("loopy.params.json", "utf8"));
const seed = Number(process.env.SEED);
const index = Number(process.env.LOOPY_EXPERIMENT_INDEX);
for (let s = 1; s <= 5; s++) console.log(JSON.stringify({ step: s * 10, loss: 1 / s + p.x, lr: 0.01 }));
if (index === 4) { console.error("boom: loss diverged"); process.exit(1); }
if (index === 6) { console.log("thinking..."); setTimeout(() => {}, 60_000); }
else {
  console.log("---");
  console.log("score: " + ((p.x - 0.3) ** 2 + 0.001 * (seed % 3)).toFixed(6));
  console.log("cuda_device: " + (process.env.CUDA_VISIBLE_DEVICES ?? -1));
  console.log("env_params_x: " + JSON.parse(process.env.LOOPY_PARAMS).x);
}
`;

const TERMINAL = ["completed", "failed", "cancelled"];

describe("research loop", () => {
  let h: Harness;
  let repo: string;
  let project: string;

  beforeAll(async () => {
    h = await createHarness();
    repo = await makeRepo({
      "exp.mjs": EXPERIMENT,
      "loopy.params.json": '{ "x": 0.9, "keep_me": "yes" }\n',
      "eval.mjs": "export const secret = 42;\n",
      "README.md": "demo\n",
    });
    project = (await h.api.projects.add({ path: repo, name: `research-${path.basename(repo)}` })).name;
    await h.startResearchWorker();
  });
  afterAll(() => h?.close());

  const settled = (loopId: string, timeoutMs = 60_000) =>
    eventually(
      async () => {
        const loop = await h.api.research.get({ loopId });
        return TERMINAL.includes(loop.status) ? loop : undefined;
      },
      timeoutMs,
      `loop ${loopId} to end`,
    );

  it("runs baseline, noise repeats and 5 candidates with a crash and a timeout, keeping only real improvements", async () => {
    const created = await h.api.research.create({
      project,
      command: "node exp.mjs",
      metric: "score",
      direction: "min",
      budget: "1s",
      maxExperiments: 5,
      optimizer: "random",
      space: { x: { type: "float", low: 0, high: 1 } },
      protected: ["eval.mjs"],
      slots: ["gpu0", "gpu1"],
      seed: 1,
    });
    expect(created).toMatchObject({
      status: "queued",
      branch: `loopy/research-${created.id}`,
      editableGlobs: ["loopy.params.json"],
      noiseRepeats: 2,
    });
    const job = await h.services.researchQueue.getJob(created.id);
    expect(job?.id ?? "(job already taken)").toBeTruthy();

    const loop = await settled(created.id);
    expect(loop.status).toBe("completed");
    expect(loop.statusReason).toMatch(/Ran 5 experiments/);

    const experiments = await h.api.research.experiments({ loopId: loop.id });
    expect(experiments.map((e) => e.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(experiments.map((e) => e.kind)).toEqual([
      "baseline",
      "noise",
      "noise",
      "candidate",
      "candidate",
      "candidate",
      "candidate",
      "candidate",
    ]);
    expect(experiments.map((e) => e.seed)).toEqual([1, 2, 3, 1, 1, 1, 1, 1]);
    expect(experiments.every((e) => e.attempt === 1)).toBe(true);

    // The baseline and its repeats give the noise floor.
    const [baseline, n1, n2] = experiments;
    expect(baseline).toMatchObject({ status: "keep", metricValue: 0.361, commitSha: gitIn(repo, "rev-parse", "main") });
    expect([n1!.metricValue, n2!.metricValue]).toEqual([0.362, 0.36]);
    expect(loop.noiseFloor).toBeCloseTo(noiseFloor([0.361, 0.362, 0.36]), 10);

    // The crash keeps its log tail and reason; the hang is killed at 2 × budget.
    const crash = await h.api.research.experiment({ experimentId: experiments[4]!.id });
    expect(crash).toMatchObject({ status: "crash", exitCode: 1, metricValue: null });
    expect(crash.reason).toMatch(/exited with code 1: boom: loss diverged/);
    expect(crash.logTail).toContain("boom: loss diverged");
    const timeout = experiments[6]!;
    expect(timeout).toMatchObject({ status: "timeout", metricValue: null });
    expect(timeout.durationMs!).toBeGreaterThanOrEqual(2000);
    expect(timeout.durationMs!).toBeLessThan(6000);

    // Every measured candidate is judged against the best so far and the noise floor.
    let best = 0.361;
    for (const e of experiments.slice(3)) {
      if (e.index === 4 || e.index === 6) continue;
      const x = (e.params as { x: number }).x;
      expect(e.metricValue).toBeCloseTo((x - 0.3) ** 2 + 0.001, 6);
      const gain = best - e.metricValue!;
      const expected = gain > loop.noiseFloor! ? "keep" : gain > 0 ? "flagged" : "discard";
      expect(e.status, `#${e.index} x=${x} best=${best}`).toBe(expected);
      if (expected === "keep") best = e.metricValue!;
      expect(e.bestSoFar).toBe(best);
    }
    expect(loop.bestMetric).toBe(best);
    expect(experiments.filter((e) => e.kind === "candidate" && e.status === "keep").length).toBeGreaterThan(0);
    expect(experiments.filter((e) => e.kind === "candidate" && e.status !== "keep").length).toBeGreaterThan(2);

    // The branch holds the best commit; its params file is the best proposal merged over the original.
    const bestExperiment = experiments.find((e) => e.id === loop.bestExperimentId)!;
    expect(gitIn(repo, "rev-parse", loop.branch)).toBe(loop.bestCommit);
    expect(JSON.parse(gitIn(repo, "show", `${loop.branch}:loopy.params.json`))).toEqual({
      ...(bestExperiment.params as object),
      keep_me: "yes",
    });
    // A discarded change is not on the branch, but its diff is kept.
    const discarded = experiments.find(
      (e) => e.kind === "candidate" && (e.status === "discard" || e.status === "flagged"),
    )!;
    const detail = await h.api.research.experiment({ experimentId: discarded.id });
    expect(detail.diff).toContain('-{ "x": 0.9, "keep_me": "yes" }');
    expect(detail.diff).toContain(`+  "x": ${(discarded.params as { x: number }).x},`);
    expect(detail.diffStats).toMatchObject([{ path: "loopy.params.json", additions: expect.any(Number) }]);
    expect(() => gitIn(repo, "merge-base", "--is-ancestor", detail.commitSha!, loop.branch)).toThrow();
    // The discarded commit stays reachable for later inspection.
    expect(gitIn(repo, "rev-parse", `refs/loopy/experiments/${discarded.id}`)).toBe(detail.commitSha);

    // Experiments got their environment: slot, CUDA device, params.
    expect(experiments.every((e) => e.slot === "gpu0")).toBe(true);
    expect(crash.metrics).toEqual({});
    const measured = await h.api.research.experiment({ experimentId: experiments[3]!.id });
    expect(measured.metrics).toMatchObject({
      cuda_device: 0,
      env_params_x: (experiments[3]!.params as { x: number }).x,
    });

    // Step lines became points, per series.
    const points = await h.api.research.points({ experimentId: experiments[3]!.id });
    expect(points.series.map((s) => s.name).sort()).toEqual(["loss", "lr"]);
    expect(points.series.find((s) => s.name === "loss")!.points.map((p) => p.step)).toEqual([10, 20, 30, 40, 50]);
    const onlyLoss = await h.api.research.points({
      experimentId: experiments[3]!.id,
      name: "loss",
      sinceId: points.lastId,
    });
    expect(onlyLoss.series).toEqual([]);

    // The worktree is gone; the user's checkout and branch never moved.
    expect(existsSync(path.join(h.home, "worktrees", `research-${loop.id}`))).toBe(false);
    expect(JSON.parse(gitIn(repo, "show", "main:loopy.params.json"))).toEqual({ x: 0.9, keep_me: "yes" });

    // Slot use is charted from the experiments' times.
    const slots = await h.api.research.slots({ project });
    expect(slots.slots.map((s) => s.name)).toEqual(["gpu0", "gpu1"]);
    expect(slots.intervals.filter((i) => i.loopId === loop.id)).toHaveLength(8);

    // results.tsv: baseline and candidates; a crash and a timeout both export as crash, the timeout said so.
    const rows = (await h.api.research.exportTsv({ loopId: loop.id })).tsv
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split("\t"));
    expect(rows).toHaveLength(6);
    expect(rows[2]).toEqual([
      experiments[4]!.commitSha!.slice(0, 7),
      "0.000000",
      "0.0",
      "crash",
      experiments[4]!.description,
    ]);
    expect(rows[4]).toEqual([
      experiments[6]!.commitSha!.slice(0, 7),
      "0.000000",
      "0.0",
      "crash",
      `${experiments[6]!.description} (timeout)`,
    ]);
  }, 90_000);

  it("takes step values over HTTP from scripts that prefer to POST them", async () => {
    const repo4 = await makeRepo({
      "exp.mjs": `const url = process.env.LOOPY_METRICS_URL;
const post = (body) => fetch(url, { method: "POST", body }).then((r) => r.status);
const codes = [
  await post(JSON.stringify({ step: 1, loss: 3 })),
  await post(JSON.stringify([{ step: 2, loss: 2 }, { step: 3, loss: 1.5, acc: 0.4 }])),
  await post('{"step": 4, "loss": 1.2}\\n{"step": 5, "loss": 1.1}'),
  await post("not json"),
  await fetch(url + "x", { method: "POST", body: "{}" }).then((r) => r.status),
];
console.log("codes: " + codes.join(""));
console.log("score: 1");`,
      "loopy.params.json": "{}\n",
    });
    const name = (await h.api.projects.add({ path: repo4, name: `http-${path.basename(repo4)}` })).name;
    const loop = await settled(
      (
        await h.api.research.create({
          project: name,
          command: "node exp.mjs",
          metric: "score",
          direction: "min",
          budget: "10s",
          maxExperiments: 1,
          noiseRepeats: 0,
          optimizer: "random",
          space: { a: { type: "int", low: 1, high: 2 } },
        })
      ).id,
    );
    const [baseline] = await h.api.research.experiments({ loopId: loop.id });
    const detail = await h.api.research.experiment({ experimentId: baseline!.id });
    expect(detail.metrics).toMatchObject({ codes: 204204204400404 });
    const points = await h.api.research.points({ experimentId: baseline!.id });
    expect(points.series.find((s) => s.name === "loss")!.points).toEqual(
      [1, 2, 3, 4, 5].map((step, i) => ({ step, value: [3, 2, 1.5, 1.2, 1.1][i] })),
    );
    expect(points.series.find((s) => s.name === "acc")!.points).toEqual([{ step: 3, value: 0.4 }]);
  }, 60_000);

  it("flags improvements inside the noise floor and never advances the branch for them", async () => {
    const repo2 = await makeRepo({
      // Improvements of at most 0.015 against a noise floor of 0.02.
      "exp.mjs": `import { readFileSync } from "node:fs";
const p = JSON.parse(readFileSync("loopy.params.json", "utf8"));
console.log("score: " + (1 + 0.01 * ((Number(process.env.SEED) % 3) - 1) - 0.3 * p.x).toFixed(6));`,
      "loopy.params.json": '{ "x": 0 }\n',
    });
    const name = (await h.api.projects.add({ path: repo2, name: `noise-${path.basename(repo2)}` })).name;
    const created = await h.api.research.create({
      project: name,
      command: "node exp.mjs",
      metric: "score",
      direction: "min",
      budget: "5s",
      maxExperiments: 3,
      optimizer: "tpe",
      space: { x: { type: "float", low: 0.001, high: 0.05 } },
    });
    const loop = await settled(created.id);
    expect(loop.noiseFloor).toBeCloseTo(0.02, 10);
    const candidates = (await h.api.research.experiments({ loopId: loop.id })).filter((e) => e.kind === "candidate");
    expect(candidates.map((c) => c.status)).toEqual(["flagged", "flagged", "flagged"]);
    expect(candidates[0]!.reason).toMatch(/within the noise floor/);
    const exported = (await h.api.research.exportTsv({ loopId: loop.id })).tsv.trim().split("\n");
    expect(
      exported.slice(2).every((l) => l.includes("\tdiscard\t") && l.endsWith("(flagged: within the noise floor)")),
    ).toBe(true);
    expect(loop.bestCommit).toBe(gitIn(repo2, "rev-parse", "main"));
    expect(gitIn(repo2, "rev-parse", loop.branch)).toBe(gitIn(repo2, "rev-parse", "main"));
  }, 60_000);

  it("an agent proposer edits the editable files; a change outside them (here the protected evaluation file) is refused, its diff kept", async () => {
    const model = await startFakeModelServer();
    try {
      await h.api.profiles.add({
        name: "research-fake",
        adapter: "openai-compatible",
        config: { model: "fake-model", baseUrl: `${model.url}/v1`, maxTurns: 10 },
      });
      const repo3 = await makeRepo({ "exp.mjs": 'console.log("score: 1")\n', "eval.mjs": "export const x = 1;\n" });
      const name = (await h.api.projects.add({ path: repo3, name: `agent-${path.basename(repo3)}` })).name;
      const base = {
        project: name,
        command: "node exp.mjs",
        metric: "score",
        direction: "min" as const,
        budget: "5s",
        maxExperiments: 1,
        noiseRepeats: 0,
        agent: "research-fake",
        editable: ["exp.mjs"],
        protected: ["eval.mjs"],
      };

      const good = await settled(
        (
          await h.api.research.create({
            ...base,
            instructions: "Make the score lower.\n@write exp.mjs: console.log('score: 0.5')\n@say print a lower score",
          })
        ).id,
      );
      const [, improved] = await h.api.research.experiments({ loopId: good.id });
      expect(improved).toMatchObject({
        kind: "candidate",
        status: "keep",
        metricValue: 0.5,
        description: "print a lower score",
        additions: 1,
        deletions: 1,
      });
      expect(good.bestMetric).toBe(0.5);
      expect(gitIn(repo3, "show", `${good.branch}:exp.mjs`)).toBe("console.log('score: 0.5')");

      const bad = await settled(
        (
          await h.api.research.create({
            ...base,
            instructions: "@write eval.mjs: export const x = 2;\n@say changed the evaluation",
          })
        ).id,
      );
      const [, refused] = await h.api.research.experiments({ loopId: bad.id });
      expect(refused).toMatchObject({ status: "crash", metricValue: null, startedAt: null });
      expect(refused!.reason).toMatch(/refused: changed files outside the editable globs \(exp\.mjs\): eval\.mjs/);
      expect((await h.api.research.experiment({ experimentId: refused!.id })).diff).toContain("+export const x = 2;");
      expect(gitIn(repo3, "rev-parse", bad.branch)).toBe(gitIn(repo3, "rev-parse", "main"));
    } finally {
      await model.close();
    }
  }, 60_000);
});

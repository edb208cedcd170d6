import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResearchStreamItem } from "@loopy/api/routers/research";
import { appendResearchEvents, listResearchEvents } from "@loopy/core/research";
import { createHarness, eventually, makeRepo, type Harness } from "./harness.ts";

const fixture = readFileSync(
  path.resolve(
    path.dirname(fileURLToPath(import.meta.url)),
    "../packages/research-math/fixtures/autoresearch-h100-mar8.results.tsv",
  ),
  "utf8",
);

/** Ten step lines, 50 ms apart, then the summary. */
const STEPPY = `
const x = JSON.parse(process.env.LOOPY_PARAMS).x ?? 0.5;
let step = 0;
const timer = setInterval(() => {
  step++;
  console.log(JSON.stringify({ step, loss: 2 / step + x }));
  if (step === 10) { clearInterval(timer); console.log("---"); console.log("loss: " + (2 / step + x)); }
}, 50);
`;

describe("research API", () => {
  let h: Harness;
  let project: string;

  beforeAll(async () => {
    h = await createHarness();
    const repo = await makeRepo({
      "steppy.mjs": STEPPY,
      "loopy.params.json": '{ "x": 0.5 }\n',
      "src/model.py": "pass\n",
    });
    project = (await h.api.projects.add({ path: repo, name: `api-${path.basename(repo)}` })).name;
    await h.startResearchWorker();
  });
  afterAll(() => h?.close());

  const create = (extra: Record<string, unknown> = {}) =>
    h.api.research.create({
      project,
      command: "node steppy.mjs",
      metric: "loss",
      direction: "min",
      budget: "10s",
      maxExperiments: 2,
      noiseRepeats: 0,
      optimizer: "tpe",
      space: { x: { type: "float", low: 0, high: 1 } },
      ...extra,
    });

  /** Reads research.events until `stop` says so; returns the items with their tracked ids. */
  async function read(
    input: { loopId: string; lastEventId?: string; sincePointId?: string },
    stop: (item: ResearchStreamItem, all: ResearchStreamItem[]) => boolean,
  ) {
    const controller = new AbortController();
    const stream = await h.apiWithSignal(controller.signal).research.events(input);
    const got: Array<{ id: string; item: ResearchStreamItem }> = [];
    const timer = setTimeout(() => controller.abort(), 30_000);
    for await (const [id, item] of stream as AsyncIterable<[string, ResearchStreamItem]>) {
      got.push({ id, item });
      if (
        stop(
          item,
          got.map((g) => g.item),
        )
      )
        controller.abort();
    }
    clearTimeout(timer);
    return got;
  }
  const loopEnded = (item: ResearchStreamItem) =>
    item.kind === "event" &&
    item.event.event.type === "loop" &&
    ["completed", "failed", "cancelled"].includes(item.event.event.status);

  it("stores event text with NUL characters (from an agent's description) instead of failing the insert", async () => {
    const loop = await h.api.research.importTsv({ project, tsv: fixture, name: "nul" });
    await appendResearchEvents(h.services.db, null, loop.id, [
      {
        type: "experiment",
        experimentId: "x",
        index: 0,
        kind: "candidate",
        status: "discard",
        metric: 1,
        description: "a\u0000b",
      },
    ]);
    const stored = (await listResearchEvents(h.services.db, loop.id)).at(-1)!.event;
    expect(stored).toMatchObject({ type: "experiment", description: "a\uFFFDb" });
  });

  it("streams experiment changes and new points live, each point once, and resumes from a tracked id", async () => {
    const loop = await create();
    const live = await read({ loopId: loop.id }, loopEnded);
    const items = live.map((g) => g.item);
    const events = items.flatMap((i) => (i.kind === "event" ? [i.event.event] : []));
    expect(events[0]).toEqual({ type: "loop", status: "queued" });
    expect(
      events.filter((e) => e.type === "experiment").map((e) => e.type === "experiment" && `${e.index}:${e.status}`),
    ).toEqual([
      "0:queued",
      "0:running",
      "0:keep",
      "1:queued",
      "1:running",
      expect.stringMatching(/^1:(keep|discard|flagged)$/),
      "2:queued",
      "2:running",
      expect.stringMatching(/^2:(keep|discard|flagged)$/),
    ]);
    expect(events.at(-1)).toMatchObject({ type: "loop", status: "completed" });

    // Every stored point arrived once, in order, while its experiment ran.
    const points = items.flatMap((i) => (i.kind === "points" ? i.points : []));
    const stored = await h.services.db.experimentPoint.count({ where: { loopId: loop.id } });
    expect(stored).toBe(30);
    expect(points).toHaveLength(30);
    const ids = points.map((p) => BigInt(p.id));
    for (let k = 1; k < ids.length; k++) expect(ids[k]! > ids[k - 1]!).toBe(true);
    const firstPoints = items.findIndex((i) => i.kind === "points");
    const firstEnd = items.findIndex(
      (i) =>
        i.kind === "event" &&
        i.event.event.type === "experiment" &&
        i.event.event.index === 0 &&
        i.event.event.status === "keep",
    );
    expect(firstPoints).toBeLessThan(firstEnd);

    // Resuming from a tracked id in the middle gives exactly the rest.
    const middle = Math.floor(live.length / 2);
    const rest = await read({ loopId: loop.id, lastEventId: live[middle]!.id }, loopEnded);
    const flatten = (xs: ResearchStreamItem[]) =>
      xs.flatMap((i) => (i.kind === "event" ? [`e${i.event.id}`] : i.points.map((p) => `p${p.id}`)));
    const tail = flatten(live.slice(middle + 1).map((g) => g.item));
    expect(new Set(flatten(rest.map((g) => g.item)))).toEqual(new Set(tail));

    // A late viewer gets the events; points only from where its chart left off (sincePointId).
    const late = await read({ loopId: loop.id }, loopEnded);
    expect(late.every((g) => g.item.kind === "event")).toBe(true);
    const experiments = await h.api.research.experiments({ loopId: loop.id });
    const chart = await h.api.research.points({ experimentId: experiments[1]!.id, maxPoints: 4 });
    expect(chart.series[0]).toMatchObject({ name: "loss", total: 10 });
    expect(chart.series[0]!.points.length).toBeLessThanOrEqual(4);
    expect(chart.series[0]!.points[0]).toEqual({ step: 1, value: 2 + (experiments[1]!.params as { x: number }).x });
    const after = await read({ loopId: loop.id, sincePointId: chart.lastId! }, loopEnded);
    const newer = after.flatMap((g) => (g.item.kind === "points" ? g.item.points : []));
    expect(newer.map((p) => p.experimentId)).toEqual(Array(10).fill(experiments[2]!.id));
  }, 60_000);

  it("lists loops with counts and shows experiments with their delta against the best", async () => {
    const loop = await create({ maxExperiments: 1, name: "listed" });
    await eventually(
      async () => ((await h.api.research.get({ loopId: loop.id })).status === "completed" ? true : undefined),
      30_000,
      "loop to finish",
    );
    const listed = (await h.api.research.list({ project })).find((l) => l.id === loop.id)!;
    expect(listed).toMatchObject({
      name: "listed",
      status: "completed",
      counts: { total: 2, keep: expect.any(Number) },
    });
    const experiments = await h.api.research.experiments({ loopId: loop.id });
    const best = (await h.api.research.get({ loopId: loop.id })).bestMetric!;
    for (const e of experiments) expect(e.deltaVsBest).toBeCloseTo(best - e.metricValue!, 12);
    expect(experiments.some((e) => e.deltaVsBest === 0)).toBe(true);
  }, 60_000);

  it("round-trips autoresearch's results.tsv: import as a completed loop, export the same file", async () => {
    const imported = await h.api.research.importTsv({ project, tsv: fixture, name: "karpathy mar8" });
    expect(imported).toMatchObject({
      status: "completed",
      proposer: "import",
      metric: "val_bpb",
      direction: "min",
      bestMetric: 0.969686,
    });
    const experiments = await h.api.research.experiments({ loopId: imported.id });
    expect(experiments).toHaveLength(126);
    const count = (s: string) => experiments.filter((e) => e.status === s).length;
    expect([count("keep"), count("discard"), count("crash")]).toEqual([23, 102, 1]);
    expect(experiments[0]).toMatchObject({
      kind: "baseline",
      commitSha: "baseline",
      metricValue: 0.9979,
      memoryGb: 44,
    });
    expect(experiments.at(-1)!.bestSoFar).toBe(0.969686);
    const exported = await h.api.research.exportTsv({ loopId: imported.id });
    expect(exported.filename).toBe(`results-${imported.id}.tsv`);
    expect(exported.tsv).toBe(fixture);

    await expect(h.api.research.importTsv({ project, tsv: "hello\tworld" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringMatching(/Not a results.tsv/),
    });
    await expect(
      h.api.research.importTsv({
        project,
        tsv: "commit\tval_bpb\tmemory_gb\tstatus\tdescription\nabc\t0.9\t1.0\tmaybe\tx",
      }),
    ).rejects.toThrow(/line 2: status must be keep, discard or crash/);
  });

  it("exports a loop it ran in autoresearch's format (baseline and candidates)", async () => {
    const loop = await create({ maxExperiments: 2 });
    await eventually(
      async () => ((await h.api.research.get({ loopId: loop.id })).status === "completed" ? true : undefined),
      30_000,
      "loop to finish",
    );
    const { tsv } = await h.api.research.exportTsv({ loopId: loop.id });
    const lines = tsv.trim().split("\n");
    expect(lines[0]).toBe("commit\tloss\tmemory_gb\tstatus\tdescription");
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^[0-9a-f]{7}\t0\.700000\t0\.0\tkeep\tbaseline$/);
    for (const line of lines.slice(2)) expect(line).toMatch(/^[0-9a-f]{7}\t\d\.\d{6}\t0\.0\t(keep|discard)\tx=0\.\d+$/);
  }, 60_000);

  it("refuses bad input with a clear message and stores nothing", async () => {
    const before = (await h.api.research.list()).length;
    const ok = {
      project,
      command: "node steppy.mjs",
      metric: "loss",
      direction: "min" as const,
      budget: "10s",
      optimizer: "random" as const,
      space: { x: { type: "float", low: 0, high: 1 } },
    };
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ project: "no-such-project" }, /No project "no-such-project"/],
      [{ command: "  " }, /Command is empty/],
      [{ metric: "val bpb" }, /Metric must be the name printed in the summary line/],
      [{ budget: "soon" }, /Budget: Invalid duration "soon"/],
      [{ budget: "10ms" }, /Budget must be between 100ms and 24h/],
      [{ hardKillMultiple: 0.5 }, /hard-kill multiple must be between 1 and 10/],
      [{ maxExperiments: 0 }, /Max experiments must be a whole number from 1/],
      [{ noiseRepeats: 50 }, /Noise repeats must be a whole number from 0 to 20/],
      [
        { space: { lr: { type: "log-float", low: 0, high: 1 } } },
        /Invalid search space at lr: a log-float range must be above 0/,
      ],
      [{ space: undefined }, /needs a search space/],
      [{ optimizer: undefined, space: undefined }, /No proposer/],
      [{ agent: "nobody" }, /Choose one proposer/],
      [{ optimizer: undefined, space: undefined, agent: "nobody" }, /No agent profile "nobody"/],
      [{ editable: ["lib/**/*.rs"] }, /Editable glob "lib\/\*\*\/\*\.rs" matches no file/],
      [{ protected: ["prepare.py"] }, /Protected file "prepare.py" does not exist/],
      [{ protected: ["../etc/passwd"] }, /must be a path inside the repository/],
      [{ paramsFile: "/tmp/p.json" }, /params file must be a path inside the repository/],
      [{ slots: ["gpu 0"] }, /Invalid slot name "gpu 0"/],
      [{ baseRef: "no-such-branch" }, /Base ref "no-such-branch" does not exist/],
      [{ wallClock: "forever" }, /Wall-clock limit: Invalid duration/],
    ];
    for (const [change, message] of cases) {
      await expect(h.api.research.create({ ...ok, ...change } as never), JSON.stringify(change)).rejects.toMatchObject({
        code: expect.stringMatching(/BAD_REQUEST|NOT_FOUND/),
        message: expect.stringMatching(message),
      });
    }
    await expect(h.api.research.create({ ...ok, direction: "down" } as never)).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    expect((await h.api.research.list()).length).toBe(before);
    expect(await h.services.researchQueue.count()).toBe(0);
    await expect(h.api.research.get({ loopId: "zzzzzzzzzz" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(h.api.research.points({ experimentId: "zzzzzzzzzz" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

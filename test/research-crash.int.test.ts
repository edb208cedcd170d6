import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, eventually, makeRepo, type Harness } from "./harness.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The experiment writes "<experiment id> <pid>" to a marks file each time it
 * starts. Experiment #2 runs for a minute the first time (the test kills its
 * worker meanwhile) and briefly when it is re-run; the others are quick.
 * EPIPE is ignored, so a run whose worker died keeps going until someone kills it.
 */
const experiment = (marks: string) => `
import { appendFileSync, readFileSync } from "node:fs";
process.stdout.on("error", () => {});
const id = process.env.LOOPY_EXPERIMENT_ID;
const runsBefore = readFileSync(${JSON.stringify(marks)}, "utf8").split("\\n").filter((l) => l.startsWith(id + " ")).length;
appendFileSync(${JSON.stringify(marks)}, id + " " + process.pid + "\\n");
const p = JSON.parse(readFileSync("loopy.params.json", "utf8"));
const slow = Number(process.env.LOOPY_EXPERIMENT_INDEX) === 2 && runsBefore === 0;
const steps = slow ? 600 : 5;
let step = 0;
const timer = setInterval(() => {
  step++;
  console.log(JSON.stringify({ step, loss: 1 / step + p.x }));
  if (step >= steps) {
    clearInterval(timer);
    console.log("---");
    console.log("score: " + ((p.x - 0.3) ** 2).toFixed(6));
  }
}, 100);
`;

/** Running, not just a zombie waiting for init to reap it (a killed orphan is re-parented). */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
};

function startWorkerProcess(env: Record<string, string>): Promise<ChildProcess> {
  // node --import tsx, not the tsx launcher: the worker must be the very process SIGKILL hits.
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.join(root, "test", "fixtures", "research-worker-process.ts")],
    {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env, LOOPY_RESEARCH_LEASE: "1500ms" },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("ready ")) resolve(child);
    });
    child.on("exit", (code) => reject(new Error(`worker process exited early (${code}): ${out}`)));
  });
}

describe("research loop crash safety", () => {
  let h: Harness;
  let project: string;
  let marks: string;

  beforeAll(async () => {
    h = await createHarness();
    marks = path.join(await mkdtemp(path.join(tmpdir(), "loopy-marks-")), "marks.txt");
    writeFileSync(marks, "");
    const repo = await makeRepo({ "exp.mjs": experiment(marks), "loopy.params.json": '{ "x": 0.9 }\n' });
    project = (await h.api.projects.add({ path: repo, name: `crash-${path.basename(repo)}` })).name;
  });
  afterAll(() => h?.close());

  const runsOf = (experimentId: string) =>
    readFileSync(marks, "utf8")
      .split("\n")
      .filter((l) => l.startsWith(`${experimentId} `))
      .map((l) => Number(l.split(" ")[1]));

  const create = () =>
    h.api.research.create({
      project,
      command: "node exp.mjs",
      metric: "score",
      direction: "min",
      budget: "2m",
      maxExperiments: 3,
      noiseRepeats: 0,
      optimizer: "random",
      space: { x: { type: "float", low: 0, high: 1 } },
    });

  const slowOneRunning = (loopId: string) =>
    eventually(
      async () => {
        const e = (await h.api.research.experiments({ loopId })).find((x) => x.index === 2);
        if (e?.status !== "running") return undefined;
        const points = await h.api.research.points({ experimentId: e.id });
        return (points.series[0]?.total ?? 0) >= 3 ? e : undefined;
      },
      30_000,
      "experiment #2 to be running with points",
    );

  const settled = (loopId: string) =>
    eventually(
      async () => {
        const loop = await h.api.research.get({ loopId });
        return ["completed", "failed", "cancelled"].includes(loop.status) ? loop : undefined;
      },
      60_000,
      `loop ${loopId} to end`,
    );

  it("a worker killed with SIGKILL mid-experiment: another resumes the loop, the experiment is re-run once, nothing lost or doubled", async () => {
    const child = await startWorkerProcess(h.workerEnv);
    const { id: loopId } = await create();
    const interrupted = await slowOneRunning(loopId);
    const [orphan] = runsOf(interrupted.id);
    expect(orphan).toBeDefined();

    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    // The experiment's process group outlives its worker.
    expect(alive(orphan!)).toBe(true);
    expect((await h.api.research.get({ loopId })).status).toBe("running");

    await h.startResearchWorker({ leaseMs: 1500 });
    const loop = await settled(loopId);
    expect(loop.status).toBe("completed");
    expect(alive(orphan!)).toBe(false);

    const experiments = await h.api.research.experiments({ loopId });
    expect(experiments.map((e) => [e.index, e.kind])).toEqual([
      [0, "baseline"],
      [1, "candidate"],
      [2, "candidate"],
      [3, "candidate"],
    ]);
    const again = experiments[2]!;
    expect(again.id).toBe(interrupted.id);
    expect(again.params).toEqual(interrupted.params);
    expect(again.attempt).toBe(2);
    expect(["keep", "discard", "flagged"]).toContain(again.status);
    expect(again.metricValue).toBeCloseTo(((interrupted.params as { x: number }).x - 0.3) ** 2, 6);
    // Started twice (the killed attempt and the re-run); every other experiment once.
    expect(runsOf(again.id)).toHaveLength(2);
    for (const e of experiments.filter((x) => x.id !== again.id)) expect(runsOf(e.id), `#${e.index}`).toHaveLength(1);
    // The killed attempt's points were dropped: the curve is the re-run's alone.
    const points = await h.api.research.points({ experimentId: again.id });
    expect(points.series[0]!.points.map((p) => p.step)).toEqual([1, 2, 3, 4, 5]);

    const events = await eventsOf(loopId);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: "experiment",
        experimentId: again.id,
        status: "queued",
        reason: "re-run: its worker stopped mid-experiment",
      }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ type: "loop", status: "running", reason: expect.stringMatching(/resumed/) }),
    );
    // Exactly one final outcome per experiment.
    const finals = events.filter((e) => e.type === "experiment" && !["queued", "running"].includes(e.status as string));
    expect(finals.map((e) => e.experimentId).sort()).toEqual(experiments.map((e) => e.id).sort());
  }, 120_000);

  it("a worker that shuts down hands its loop over: the experiment is re-queued without costing an attempt", async () => {
    await h.closeResearchWorkers();
    await h.startResearchWorker({ leaseMs: 1500 });
    const { id: loopId } = await create();
    const running = await slowOneRunning(loopId);
    const [pid] = runsOf(running.id);
    await h.closeResearchWorkers();
    expect(alive(pid!)).toBe(false);
    const handed = await h.api.research.get({ loopId });
    expect(handed).toMatchObject({ status: "running", holder: null });
    expect((await h.api.research.experiments({ loopId }))[2]).toMatchObject({ status: "queued", attempt: 0 });

    await h.startResearchWorker({ leaseMs: 1500 });
    const loop = await settled(loopId);
    expect(loop.status).toBe("completed");
    const experiments = await h.api.research.experiments({ loopId });
    expect(experiments).toHaveLength(4);
    expect(experiments[2]).toMatchObject({ id: running.id, attempt: 1 });
  }, 120_000);

  it("cancel stops the running experiment's processes, records it and removes the worktree", async () => {
    await h.startResearchWorker({ leaseMs: 1500 });
    const { id: loopId } = await create();
    const running = await slowOneRunning(loopId);
    const runs = runsOf(running.id);
    const cancelled = await h.api.research.cancel({ loopId });
    expect(cancelled.status).toBe("cancelled");
    await eventually(
      async () => ((await h.api.research.experiments({ loopId }))[2]?.status === "crash" ? true : undefined),
      15_000,
      "the experiment to be recorded",
    );
    const experiment = await h.api.research.experiment({ experimentId: running.id });
    expect(experiment.reason).toBe("cancelled with its loop");
    for (const pid of runs) expect(alive(pid)).toBe(false);
    await eventually(
      async () => ((await h.api.research.get({ loopId })).worktreePath === null ? true : undefined),
      10_000,
      "the worktree to go",
    );
    await expect(h.api.research.cancel({ loopId })).rejects.toThrow(/already ended/);
  }, 120_000);

  it("a loop cancelled while its worker is dead is tidied by the next worker: experiment recorded, processes killed, worktree gone", async () => {
    await h.closeResearchWorkers();
    const child = await startWorkerProcess(h.workerEnv);
    const { id: loopId } = await create();
    const running = await slowOneRunning(loopId);
    const [orphan] = runsOf(running.id);
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    expect((await h.api.research.cancel({ loopId })).status).toBe("cancelled");
    expect(alive(orphan!)).toBe(true);
    expect((await h.api.research.experiments({ loopId }))[2]!.status).toBe("running");

    await h.startResearchWorker({ leaseMs: 1500 });
    await eventually(
      async () => ((await h.api.research.get({ loopId })).worktreePath === null ? true : undefined),
      20_000,
      "the worktree to be removed",
    );
    expect(alive(orphan!)).toBe(false);
    const experiment = await h.api.research.experiment({ experimentId: running.id });
    expect(experiment).toMatchObject({ status: "crash", reason: "cancelled with its loop", attempt: 1 });
    expect(existsSync(path.join(h.home, "worktrees", `research-${loopId}`))).toBe(false);
  }, 120_000);

  async function eventsOf(loopId: string) {
    const rows = await h.services.db.researchEvent.findMany({
      where: { loopId },
      orderBy: { id: "asc" },
      select: { data: true },
    });
    return rows.map((r) => r.data as Record<string, unknown>);
  }
});

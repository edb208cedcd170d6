import { writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createHarness, eventually, makeRepo, type Harness } from "./harness.ts";
import { groupMembers, marks, startWorkerProcess, stopWorker, type WorkerProcess } from "./crash-helpers.ts";

/** SIGTERM to a real worker process: runs finish within LOOPY_SHUTDOWN_GRACE, or are handed over to the next worker. */
describe("crash safety: a worker stopped with SIGTERM", () => {
  let h: Harness;
  let project: string;
  let dir: string;
  const workers: WorkerProcess[] = [];
  const spawnWorker = async (grace: string) => {
    const w = await startWorkerProcess({ ...h.workerEnv, LOOPY_RUN_LEASE: "1500ms", LOOPY_SHUTDOWN_GRACE: grace });
    workers.push(w);
    return w;
  };

  beforeAll(async () => {
    h = await createHarness();
    dir = await mkdtemp(path.join(tmpdir(), "loopy-shutdown-"));
    const repo = await makeRepo();
    project = (await h.api.projects.add({ path: repo, name: `shutdown-${path.basename(repo)}` })).name;
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) await stopWorker(w);
  });
  afterAll(() => h?.close());

  const running = (runId: string, file: string, n: number) =>
    eventually(
      async () =>
        (await h.api.runs.get({ runId })).status === "running" && marks(file).length >= n ? true : undefined,
      30_000,
      `run ${runId} to be running`,
    );

  it("a run shorter than the grace period finishes before the worker exits", async () => {
    const file = path.join(dir, "short.txt");
    writeFileSync(file, "");
    const worker = await spawnWorker("20s");
    const { id: runId } = await h.api.runs.launch({
      project,
      command: `echo "start $$" >> ${file}; sleep 1.5; echo finished > short.txt`,
    });
    await running(runId, file, 1);
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    // By the time the worker has exited the run has ended, normally.
    const run = await h.api.runs.get({ runId });
    expect(run.status).toBe("awaiting_review");
    expect((await h.api.runs.diff({ runId })).diff).toContain("+finished");
    expect(worker.output()).toMatch(/SIGTERM: stopping; 1 run\(s\) in progress get 20s to finish/);
  }, 60_000);

  it("a run longer than the grace period is handed over: its processes are killed and the next worker re-runs the turn", async () => {
    const file = path.join(dir, "long.txt");
    writeFileSync(file, "");
    const worker = await spawnWorker("1s");
    const command = `echo "start $$" >> ${file}; if [ "$(grep -c start ${file})" = 1 ]; then sleep 60; fi; echo finished > long.txt`;
    const { id: runId } = await h.api.runs.launch({ project, command, timeout: "2m" });
    await running(runId, file, 1);
    const first = Number(marks(file)[0]!.split(" ")[1]);
    const stoppedAt = Date.now();
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    // Handed over, not ended: still running, nobody holding it, its processes gone.
    const row = await h.services.db.run.findUniqueOrThrow({
      where: { id: runId },
      select: { status: true, holder: true, interruptions: true },
    });
    expect(row).toEqual({ status: "running", holder: null, interruptions: 0 });
    expect(groupMembers(first)).toEqual([]);
    expect(worker.output()).toMatch(/shutdown grace over: handing over 1 run\(s\)/);

    await spawnWorker("1s");
    const run = await eventually(
      async () => {
        const r = await h.api.runs.get({ runId });
        return r.status === "running" ? undefined : r;
      },
      30_000,
      "the run to finish on the next worker",
    );
    expect(run.status).toBe("awaiting_review");
    expect(marks(file)).toHaveLength(2);
    const log = (await h.api.runs.eventLog({ runId })).map((e) => e.event);
    expect(log).toContainEqual(
      expect.objectContaining({
        type: "error",
        message: expect.stringMatching(/^Stopped mid-turn: its worker is shutting down/),
      }),
    );
    expect(log).toContainEqual(
      expect.objectContaining({
        type: "error",
        message: "Handed over by a worker that shut down; re-running turn 1 from its start",
      }),
    );
    expect(log.flatMap((e) => (e.type === "status" ? [e.status] : []))).toEqual([
      "queued",
      "running",
      "awaiting_review",
    ]);
    // A hand-over is not a crash: it costs the run none of its one re-run.
    expect(
      (await h.services.db.run.findUniqueOrThrow({ where: { id: runId }, select: { interruptions: true } }))
        .interruptions,
    ).toBe(0);
  }, 60_000);
});

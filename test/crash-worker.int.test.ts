import { existsSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createHarness, eventually, gitIn, makeRepo, type Harness } from "./harness.ts";
import {
  alive,
  groupMembers,
  killHard,
  marks,
  startWorkerProcess,
  stopWorker,
  type WorkerProcess,
} from "./crash-helpers.ts";

/**
 * kill -9 of a worker mid-run. The run's command records each start in a marks
 * file and sleeps the first time only, so the test can kill the worker while
 * the first attempt runs; a worker that takes the run over re-runs the turn.
 */
describe("crash safety: a worker killed with SIGKILL mid-run", () => {
  let h: Harness;
  let project: string;
  let repo: string;
  let dir: string;
  const workers: WorkerProcess[] = [];
  const env = () => ({ ...h.workerEnv, LOOPY_RUN_LEASE: "1500ms", LOOPY_SHUTDOWN_GRACE: "2s" });
  const spawnWorker = async () => {
    const w = await startWorkerProcess(env());
    workers.push(w);
    return w;
  };

  beforeAll(async () => {
    h = await createHarness();
    dir = await mkdtemp(path.join(tmpdir(), "loopy-crash-"));
    repo = await makeRepo();
    project = (await h.api.projects.add({ path: repo, name: `crash-${path.basename(repo)}` })).name;
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) await stopWorker(w);
  });
  afterAll(() => h?.close());

  const startedOnce = (file: string, n: number, runId: string) =>
    eventually(
      async () => {
        const run = await h.api.runs.get({ runId });
        return run.status === "running" && marks(file).length >= n ? run : undefined;
      },
      30_000,
      `attempt ${n} of run ${runId} to be running`,
    );

  const settled = (runId: string, timeoutMs = 40_000) =>
    eventually(
      async () => {
        const run = await h.api.runs.get({ runId });
        return ["running", "verifying", "queued"].includes(run.status) ? undefined : run;
      },
      timeoutMs,
      `run ${runId} to settle`,
    );

  const statusesOf = async (runId: string) =>
    (await h.api.runs.eventLog({ runId })).flatMap((e) => (e.event.type === "status" ? [e.event.status] : []));

  it("another worker takes the run over: the orphaned process group is killed and the turn re-runs once from a clean worktree", async () => {
    const file = path.join(dir, "marks-resume.txt");
    writeFileSync(file, "");
    const command = `echo "start $$" >> ${file}; echo "attempt $$" >> partial.txt; if [ "$(grep -c start ${file})" = 1 ]; then sleep 60; fi; echo done > out.txt`;
    const first = await spawnWorker();
    const { id: runId } = await h.api.runs.launch({ project, command, timeout: "2m" });
    await startedOnce(file, 1, runId);
    const orphan = Number(marks(file)[0]!.split(" ")[1]);
    expect(groupMembers(orphan).length).toBeGreaterThanOrEqual(2); // bash and its sleep

    await killHard(first);
    // The agent's process group outlives its worker, and the row still says running.
    expect(alive(orphan)).toBe(true);
    expect((await h.api.runs.get({ runId })).status).toBe("running");

    await spawnWorker();
    const run = await settled(runId);
    expect(run.status).toBe("awaiting_review");
    // The dead worker's group is gone (bash and sleep), before the turn ran again.
    expect(groupMembers(orphan)).toEqual([]);
    expect(marks(file)).toHaveLength(2);
    // The worktree was reset to the turn's start: the killed attempt's line is not in the result.
    const diff = await h.api.runs.diff({ runId });
    expect(diff.diff).toContain("+done");
    const partial = (diff.diff ?? "").split("\n").filter((l) => l.startsWith("+attempt "));
    expect(partial).toEqual([`+attempt ${marks(file)[1]!.split(" ")[1]}`]);
    expect(await statusesOf(runId)).toEqual(["queued", "running", "awaiting_review"]);
    const log = await h.api.runs.eventLog({ runId });
    expect(log.map((e) => e.event)).toContainEqual(
      expect.objectContaining({
        type: "error",
        message: expect.stringMatching(
          /^Worker died mid-run .*; re-running turn 1 from its start; killed \d+ process\(es\) it left$/,
        ),
      }),
    );
    const row = await h.services.db.run.findUniqueOrThrow({
      where: { id: runId },
      select: { interruptions: true, holder: true },
    });
    expect(row).toEqual({ interruptions: 1, holder: null });
    const turns = await h.api.runs.turns({ runId });
    expect(turns).toHaveLength(1);
    // The branch has one commit on top of the base: the re-run's.
    expect(gitIn(repo, "rev-list", "--count", `main..loopy/run-${runId}`)).toBe("1");
  }, 90_000);

  it("killed while the checkpoints run: the next worker runs the checkpoints again, not the agent's turn", async () => {
    const file = path.join(dir, "marks-verify.txt");
    const checks = path.join(dir, "marks-checks.txt");
    writeFileSync(file, "");
    writeFileSync(checks, "");
    const check = `echo "check $$" >> ${checks}; if [ "$(grep -c check ${checks})" = 1 ]; then sleep 60; fi; test -f out.txt`;
    const first = await spawnWorker();
    const { id: runId } = await h.api.runs.launch({
      project,
      command: `echo "start $$" >> ${file}; echo done > out.txt`,
      checkpoints: [{ name: "slow", kind: "command", command: check, timeout: "2m" }],
      timeout: "2m",
    });
    await eventually(
      async () =>
        (await h.api.runs.get({ runId })).status === "verifying" && marks(checks).length === 1 ? true : undefined,
      30_000,
      "the checkpoint to run",
    );
    const orphan = Number(marks(checks)[0]!.split(" ")[1]);
    await killHard(first);
    expect(alive(orphan)).toBe(true);

    await spawnWorker();
    const run = await settled(runId);
    expect(run.status).toBe("awaiting_review");
    expect(run.checksPassed).toBe(true);
    expect(groupMembers(orphan)).toEqual([]);
    expect(marks(file)).toHaveLength(1);
    expect(marks(checks)).toHaveLength(2);
    const results = await h.api.runs.checks({ runId });
    expect(results.map((r) => [r.name, r.turnIndex, r.passed])).toEqual([["slow", 0, true]]);
    const log = (await h.api.runs.eventLog({ runId })).map((e) => e.event);
    expect(log).toContainEqual(
      expect.objectContaining({
        type: "error",
        message: expect.stringMatching(/after turn 1 finished; running its checkpoints again/),
      }),
    );
    expect(log.flatMap((e) => (e.type === "status" ? [e.status] : []))).toEqual([
      "queued",
      "running",
      "verifying",
      "awaiting_review",
    ]);
  }, 90_000);

  it("a second crash of the same run fails it with the reason, kills its processes and removes its worktree", async () => {
    const file = path.join(dir, "marks-twice.txt");
    writeFileSync(file, "");
    const command = `echo "start $$" >> ${file}; sleep 60`;
    let worker = await spawnWorker();
    const { id: runId } = await h.api.runs.launch({ project, command, timeout: "2m" });
    for (const attempt of [1, 2]) {
      await startedOnce(file, attempt, runId);
      await killHard(worker);
      worker = await spawnWorker();
    }
    const run = await settled(runId);
    expect(run.status).toBe("failed");
    expect(run.statusReason).toMatch(
      /^Worker died mid-run \(2 times\); the turn is not re-run again; killed \d+ process\(es\) it left\. Launch the run again to retry$/,
    );
    expect(marks(file)).toHaveLength(2);
    for (const line of marks(file)) expect(groupMembers(Number(line.split(" ")[1]))).toEqual([]);
    expect(existsSync(path.join(h.home, "worktrees", runId))).toBe(false);
    expect(await statusesOf(runId)).toEqual(["queued", "running", "failed"]);
  }, 90_000);
});

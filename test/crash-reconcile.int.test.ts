import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "@loopy/core/shared";
import { reconcileRuns, type ReconcileDeps } from "@loopy/core/runs";
import { enqueueRun, ensureRunJob, hasLiveJob } from "@loopy/queue/run-queue";
import { createHarness, eventually, gitIn, makeRepo, type Harness } from "./harness.ts";
import { alive } from "./crash-helpers.ts";

/**
 * Reconcile on worker start, one mismatch at a time: the database says one
 * thing, Redis, the worktrees folder or the process table another.
 */
describe("crash safety: reconciling runs with the queue, worktrees and processes", () => {
  let h: Harness;
  let repo: string;
  let project: string;
  let deps: ReconcileDeps;
  const logs: string[] = [];
  const strays: number[] = [];

  beforeAll(async () => {
    h = await createHarness();
    repo = await makeRepo();
    project = (await h.api.projects.add({ path: repo, name: `reconcile-${path.basename(repo)}` })).name;
    const queue = h.services.queue;
    deps = {
      db: h.services.db,
      notifier: h.services.notifier,
      loopyHome: h.home,
      leaseMs: 2_000,
      log: (m) => logs.push(m),
      jobs: {
        has: (id) => hasLiveJob(queue, id),
        enqueue: (runId, turn) => enqueueRun(queue, runId, turn),
        ensure: (runId, id) => ensureRunJob(queue, runId, id),
      },
    };
  });
  afterAll(async () => {
    for (const pid of strays) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    await h?.close();
  });

  /** A queued run (no worker is running in this suite, so it stays queued) whose row the test then bends. */
  const launch = async () => (await h.api.runs.launch({ project, command: "echo hi > hi.txt" })).id;
  const setRow = (runId: string, sql: string) =>
    h.services.db.$executeRawUnsafe(`UPDATE runs SET ${sql} WHERE id = $1`, runId);
  const jobState = async (jobId: string) => (await (await h.services.queue.getJob(jobId))?.getState()) ?? "missing";
  const worktreeOf = (name: string) => path.join(h.home, "worktrees", name);
  const addWorktree = (name: string) => {
    mkdirSync(path.join(h.home, "worktrees"), { recursive: true });
    gitIn(repo, "worktree", "add", "-q", "-b", `loopy/test-${name}`, worktreeOf(name), "main");
  };
  const stray = (env: Record<string, string>, cwd: string) => {
    const child = spawn("sleep", ["60"], {
      cwd,
      env: { PATH: process.env.PATH ?? "", ...env },
      detached: true,
      stdio: "ignore",
    });
    child.unref();
    strays.push(child.pid!);
    return child.pid!;
  };

  it("running runs: a dead holder's run gets a take-over job (once, however many workers reconcile); a live holder's is left alone", async () => {
    const ghost = await launch();
    const live = await launch();
    await h.services.queue.remove(ghost);
    await h.services.queue.remove(live);
    await setRow(
      ghost,
      "status = 'running', started_at = now() - interval '1 hour', holder = 'gone-host:1:abc', heartbeat_at = now() - interval '1 hour'",
    );
    await setRow(live, "status = 'running', started_at = now(), holder = 'other-host:2:def', heartbeat_at = now()");

    // Two workers starting at once.
    const [a, b] = await Promise.all([reconcileRuns(deps, { full: true }), reconcileRuns(deps, { full: true })]);
    expect([...a.recovered, ...b.recovered]).toContain(ghost);
    expect([...a.recovered, ...b.recovered]).not.toContain(live);
    expect(await jobState(`${ghost}-r0`)).toBe("waiting");
    expect(await jobState(`${live}-r0`)).toBe("missing");
    const jobs = await h.services.queue.getJobs(["waiting", "active", "delayed"]);
    expect(jobs.filter((j) => j.data.runId === ghost)).toHaveLength(1);
    expect(logs.some((l) => l.startsWith("reconciled runs: ") && l.includes(ghost))).toBe(true);

    // A worker takes it over: the dead holder counts as an interruption, the turn runs, the run ends normally.
    const stopWorker = await h.startWorker();
    const run = await eventually(
      async () => {
        const r = await h.api.runs.get({ runId: ghost });
        return r.status === "awaiting_review" || r.status === "failed" ? r : undefined;
      },
      20_000,
      "the ghost run to be taken over and finish",
    );
    expect(run.status).toBe("awaiting_review");
    expect((await h.services.db.run.findUniqueOrThrow({ where: { id: ghost } })).interruptions).toBe(1);
    // The live holder's run was never touched.
    expect((await h.services.db.run.findUniqueOrThrow({ where: { id: live } })).holder).toBe("other-host:2:def");
    await setRow(live, "status = 'failed'");
    await stopWorker();
  }, 60_000);

  it("queued runs and follow-up turns whose job is missing from Redis are queued again", async () => {
    {
      const queued = await launch();
      await h.services.queue.remove(queued);
      expect(await jobState(queued)).toBe("missing");
      const followUp = await launch();
      await h.services.queue.remove(followUp);
      await setRow(followUp, "status = 'awaiting_review'");
      await h.services.db.runTurn.create({
        data: { id: newId(), runId: followUp, index: 1, kind: "review_feedback", prompt: "again" },
      });

      const summary = await reconcileRuns(deps);
      expect(summary.requeued).toEqual(expect.arrayContaining([queued, `${followUp} (turn 2)`]));
      expect(await jobState(queued)).toBe("waiting");
      expect(await jobState(`${followUp}-t1`)).toBe("waiting");
      // Nothing missing any more: a second pass changes nothing.
      expect((await reconcileRuns(deps)).requeued).toEqual([]);
      await setRow(queued, "status = 'cancelled'");
      await setRow(followUp, "status = 'cancelled'");
    }
  }, 30_000);

  it("worktrees: those of ended or unknown runs go (with the processes working in them); active, in-review, research and merge ones stay", async () => {
    const ended = await launch();
    const review = await launch();
    const active = await launch();
    await setRow(ended, "status = 'failed'");
    await setRow(review, "status = 'awaiting_review'");
    await setRow(active, "status = 'running', started_at = now(), holder = 'x:1:y', heartbeat_at = now()");
    const unknown = `z${newId()}`;
    for (const name of [ended, review, active, unknown]) addWorktree(name);
    mkdirSync(worktreeOf("research-abc"), { recursive: true });
    mkdirSync(worktreeOf("merge-123-abc"), { recursive: true });
    // Processes: one of the ended run (by LOOPY_RUN_ID, working elsewhere), one in the unknown run's worktree,
    // one of the live run, and one of a run another Loopy (another database) knows.
    const endedPid = stray({ LOOPY_RUN_ID: ended }, "/");
    const unknownPid = stray({}, worktreeOf(unknown));
    const activePid = stray({ LOOPY_RUN_ID: active }, worktreeOf(active));
    const foreignPid = stray({ LOOPY_RUN_ID: `q${newId()}` }, "/");

    const summary = await reconcileRuns(deps, { full: true });
    expect(summary.worktreesRemoved.sort()).toEqual([ended, unknown].sort());
    expect(existsSync(worktreeOf(ended))).toBe(false);
    expect(existsSync(worktreeOf(unknown))).toBe(false);
    for (const kept of [review, active, "research-abc", "merge-123-abc"])
      expect(existsSync(worktreeOf(kept)), kept).toBe(true);
    // git forgot them too (removed and pruned); the branches stay for the record.
    const listed = gitIn(repo, "worktree", "list", "--porcelain");
    expect(listed).not.toContain(worktreeOf(ended));
    expect(listed).not.toContain(worktreeOf(unknown));
    expect(listed).toContain(worktreeOf(review));
    expect(gitIn(repo, "branch", "--list", `loopy/test-${ended}`)).toContain(ended);

    expect(summary.processesKilled.sort()).toEqual([endedPid, unknownPid].sort());
    await eventually(
      async () => (!alive(endedPid) && !alive(unknownPid) ? true : undefined),
      5_000,
      "the strays to die",
    );
    expect(alive(activePid)).toBe(true);
    expect(alive(foreignPid)).toBe(true);
    expect(logs.at(-1)).toMatch(/^reconciled runs: .*2 stale worktree\(s\) removed; 2 leftover process\(es\) killed$/);
    await setRow(active, "status = 'failed'");
  }, 30_000);
});

import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StoredRunEvent } from "@loopy/core/live";
import { createHarness, eventually, gitIn, makeRepo, type Harness } from "./harness.ts";

/**
 * The whole path of a run on real things: tRPC procedure → Postgres row →
 * BullMQ job (id = run id) → worker → git worktree → child process → events
 * stored and pushed → commit and diff.
 */
describe("run lifecycle", () => {
  let h: Harness;
  let repo: string;
  let project: string;
  let stopWorker: () => Promise<void>;

  beforeAll(async () => {
    h = await createHarness();
    repo = await makeRepo();
    project = (await h.api.projects.add({ path: repo, name: `lifecycle-${path.basename(repo)}` })).name;
    stopWorker = await h.startWorker();
  });
  afterAll(() => h?.close());

  const finished = (runId: string) =>
    eventually(
      async () => {
        const run = await h.api.runs.get({ runId });
        return ["succeeded", "failed", "cancelled", "awaiting_review", "needs_attention"].includes(run.status)
          ? run
          : undefined;
      },
      20_000,
      `run ${runId} to finish`,
    );

  const eventsOf = async (runId: string) => (await h.api.runs.eventLog({ runId, limit: 5000 })).map((e) => e.event);

  it("executes a command in its own worktree, commits what changed, stores the diff and waits for review", async () => {
    const launched = await h.api.runs.launch({
      project,
      agent: "command",
      command:
        "echo one; sed -i 's/colour/color/' README.md; echo two >&2; mkdir -p src && echo 'export {}' > src/new.ts",
    });
    expect(launched.status).toBe("queued");
    expect(launched.branch).toBe(`loopy/run-${launched.id}`);
    // The run row exists before the job, and the job id is the run id.
    const job = await h.services.queue.getJob(launched.id);
    expect(job).toBeDefined();
    expect(job!.id).toBe(launched.id);

    const run = await finished(launched.id);
    expect(run.status).toBe("awaiting_review");
    expect(run.exitCode).toBe(0);
    expect(run.additions).toBe(2);
    expect(run.deletions).toBe(1);
    // The worktree stays while the run waits for review.
    expect(run.worktreePath).toBe(path.join(h.home, "worktrees", run.id));
    expect(existsSync(run.worktreePath!)).toBe(true);

    // The branch holds the commit; the user's checkout is untouched.
    expect(gitIn(repo, "rev-parse", run.branch)).toBe(run.headSha);
    expect(await readFile(path.join(repo, "README.md"), "utf8")).toBe("hello colour world\n");
    expect(gitIn(repo, "show", `${run.branch}:README.md`)).toBe("hello color world");

    const diff = await h.api.runs.diff({ runId: run.id });
    expect(diff.diff).toContain("-hello colour world");
    expect(diff.diff).toContain("+hello color world");
    expect(diff.diffStats).toEqual([
      { path: "README.md", status: "modified", additions: 1, deletions: 1, binary: false },
      { path: "src/new.ts", status: "added", additions: 1, deletions: 0, binary: false },
    ]);

    const events = await eventsOf(run.id);
    const statuses = events.flatMap((e) => (e.type === "status" ? [e.status] : []));
    expect(statuses).toEqual(["queued", "running", "awaiting_review"]);
    expect(events).toContainEqual({ type: "log", stream: "stdout", line: "one" });
    expect(events).toContainEqual({ type: "log", stream: "stderr", line: "two" });
    expect(events.findIndex((e) => e.type === "log")).toBeGreaterThan(
      events.findIndex((e) => e.type === "status" && e.status === "running"),
    );

    // Approving merges the branch into the default branch and removes the worktree.
    const approved = await h.api.review.approve({ runId: run.id });
    expect(gitIn(repo, "rev-parse", "main")).toBe(approved.mergedSha);
    expect(await readFile(path.join(repo, "README.md"), "utf8")).toBe("hello color world\n");
    const merged = await h.api.runs.get({ runId: run.id });
    expect(merged).toMatchObject({ status: "merged", worktreePath: null, mergedSha: approved.mergedSha });
    expect(existsSync(path.join(h.home, "worktrees", run.id))).toBe(false);
  });

  it("serves the unchanged lines the diff leaves out, from the run's own commits only", async () => {
    const file = `${Array.from({ length: 40 }, (_, i) => `line ${i + 1}`).join("\n")}\n`;
    const lines = await makeRepo({ "long.txt": file });
    const name = (await h.api.projects.add({ path: lines, name: `lines-${path.basename(lines)}` })).name;
    const launched = await h.api.runs.launch({
      project: name,
      agent: "command",
      command: "sed -i 's/^line 20$/line twenty/' long.txt",
    });
    await finished(launched.id);
    const diff = await h.api.runs.diff({ runId: launched.id });
    expect(diff.to).toMatch(/^[0-9a-f]{40}$/);
    // The diff shows lines 17–23; the viewer asks for what is above and below.
    expect(diff.diff).toContain("@@ -17,7 +17,7 @@");
    const above = await h.api.runs.fileLines({
      runId: launched.id,
      commit: diff.to!,
      path: "long.txt",
      start: 1,
      end: 16,
    });
    expect(above).toMatchObject({ start: 1, end: 16, total: 40 });
    expect(above.lines).toEqual(Array.from({ length: 16 }, (_, i) => `line ${i + 1}`));
    // Past the end is clipped to the file; the base side is readable too.
    const below = await h.api.runs.fileLines({
      runId: launched.id,
      commit: diff.to!,
      path: "long.txt",
      start: 24,
      end: 500,
    });
    expect(below).toMatchObject({ start: 24, end: 40, total: 40 });
    const base = await h.api.runs.fileLines({
      runId: launched.id,
      commit: diff.from,
      path: "long.txt",
      start: 20,
      end: 20,
    });
    expect(base.lines).toEqual(["line 20"]);

    // Another commit of the repository, a missing file, an empty range: clear errors.
    const other = gitIn(lines, "rev-parse", "HEAD");
    gitIn(lines, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "later");
    const later = gitIn(lines, "rev-parse", "HEAD");
    expect(other).toBe(diff.from);
    await expect(
      h.api.runs.fileLines({ runId: launched.id, commit: later, path: "long.txt", start: 1, end: 2 }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("not one of run") });
    await expect(
      h.api.runs.fileLines({ runId: launched.id, commit: diff.to!, path: "nope.txt", start: 1, end: 2 }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      h.api.runs.fileLines({ runId: launched.id, commit: diff.to!, path: "long.txt", start: 5, end: 2 }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("ends a command that changes nothing as succeeded, with nothing to review", async () => {
    const { id } = await h.api.runs.launch({ project, command: "echo just looking" });
    const run = await finished(id);
    expect(run).toMatchObject({ status: "succeeded", additions: 0, deletions: 0, worktreePath: null });
  });

  it("records a failing command as failed, with its exit code and log tail", async () => {
    const { id } = await h.api.runs.launch({ project, command: "echo about to fail; echo oops >&2; exit 3" });
    const run = await finished(id);
    expect(run.status).toBe("failed");
    expect(run.exitCode).toBe(3);
    expect(run.statusReason).toBe("command exited with code 3");
    expect(run.logTail).toBe("about to fail\noops");
  });

  it("kills a command that outlives its timeout, with its children", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "loopy-pids-"));
    const { id } = await h.api.runs.launch({
      project,
      command: `sleep 120 & echo $! > ${dir}/child.pid; sleep 121`,
      timeout: "1s",
    });
    const run = await finished(id);
    expect(run.status).toBe("failed");
    expect(run.statusReason).toMatch(/timed out after 1\.0s/);
    const pid = Number(await readFile(path.join(dir, "child.pid"), "utf8"));
    await eventually(
      async () => {
        try {
          process.kill(pid, 0);
          return undefined;
        } catch {
          return true;
        }
      },
      5000,
      "the child process to be gone",
    );
  });

  it("cancels a running run: the process group dies and the run ends cancelled", async () => {
    const { id } = await h.api.runs.launch({ project, command: "echo started; sleep 120; echo never" });
    await eventually(
      async () => ((await eventsOf(id)).some((e) => e.type === "log" && e.line === "started") ? true : undefined),
      15_000,
      "first log line",
    );
    const afterCancel = await h.api.runs.cancel({ runId: id });
    expect(["running", "cancelled"]).toContain(afterCancel.status);
    const run = await finished(id);
    expect(run.status).toBe("cancelled");
    const events = await eventsOf(id);
    expect(events).toContainEqual({ type: "cancel_requested" });
    expect(run.statusReason).toBe("cancelled by a user; the command's process group was killed");
    expect(events.some((e) => e.type === "log" && e.line === "never")).toBe(false);
    await expect(h.api.runs.cancel({ runId: id })).rejects.toThrow(/already ended/);
  });

  it("replays events to a late subscriber and resumes after a given event id", async () => {
    const { id } = await h.api.runs.launch({ project, command: "for i in 1 2 3; do echo line$i; done" }); // no change: succeeded
    await finished(id);
    const all = await h.api.runs.eventLog({ runId: id });

    const read = async (lastEventId?: string) => {
      const controller = new AbortController();
      const stream = await h.apiWithSignal(controller.signal).runs.events({ runId: id, lastEventId });
      const got: StoredRunEvent[] = [];
      for await (const item of stream as AsyncIterable<unknown>) {
        // createCaller yields tracked events as [id, data] tuples.
        const [, data] = item as [string, StoredRunEvent];
        got.push(data);
        if (got.length + (lastEventId ? all.findIndex((e) => e.id === lastEventId) + 1 : 0) === all.length)
          controller.abort();
      }
      return got;
    };
    expect((await read()).map((e) => e.id)).toEqual(all.map((e) => e.id));
    const middle = all[2]!.id;
    expect((await read(middle)).map((e) => e.id)).toEqual(all.slice(3).map((e) => e.id));
  });

  it("pushes new events to a live subscriber as they are stored", async () => {
    const { id } = await h.api.runs.launch({ project, command: "echo first; sleep 1; echo second" });
    const controller = new AbortController();
    const stream = await h.apiWithSignal(controller.signal).runs.events({ runId: id });
    const seen: string[] = [];
    let runningWhenFirstArrived: string | undefined;
    for await (const item of stream as AsyncIterable<[string, StoredRunEvent]>) {
      const event = item[1].event;
      if (event.type === "log") {
        seen.push(event.line);
        if (event.line === "first") runningWhenFirstArrived = (await h.api.runs.get({ runId: id })).status;
      }
      if (event.type === "status" && ["succeeded", "awaiting_review"].includes(event.status)) controller.abort();
    }
    expect(seen).toEqual(["first", "second"]);
    expect(runningWhenFirstArrived).toBe("running");
  });

  it("cancels a queued run at once and removes its job", async () => {
    await stopWorker();
    const { id } = await h.api.runs.launch({ project, command: "echo should never run" });
    expect(await h.services.queue.getJob(id)).toBeTruthy();
    const run = await h.api.runs.cancel({ runId: id });
    expect(run.status).toBe("cancelled");
    expect(run.startedAt).toBeNull();
    expect(await h.services.queue.getJob(id)).toBeUndefined();
    stopWorker = await h.startWorker();
  });

  it("a worker that shuts down cancels the runs it holds and says why", async () => {
    const { id } = await h.api.runs.launch({ project, command: "echo busy; sleep 120" });
    await eventually(
      async () => ((await eventsOf(id)).some((e) => e.type === "log" && e.line === "busy") ? true : undefined),
      15_000,
      "first log line",
    );
    await stopWorker();
    const run = await h.api.runs.get({ runId: id });
    expect(run.status).toBe("cancelled");
    expect(run.statusReason).toBe("cancelled because its worker shut down; the command's process group was killed");
    stopWorker = await h.startWorker();
  });

  it("reports the worker in health only while one is connected", async () => {
    const healthy = await h.services.health();
    expect(healthy).toMatchObject({ ok: true, database: { ok: true }, redis: { ok: true }, worker: { ok: true } });
    await stopWorker();
    const down = await h.services.health();
    expect(down.ok).toBe(false);
    expect(down.worker).toEqual({ ok: false, detail: "no worker connected" });
    stopWorker = await h.startWorker();
  });
});

describe("bad input is refused with a clear message and stores nothing", () => {
  let h: Harness;
  let project: string;
  beforeAll(async () => {
    h = await createHarness();
    const repo = await makeRepo();
    project = (await h.api.projects.add({ path: repo, name: `bad-input-${path.basename(repo)}` })).name;
  });
  afterAll(() => h?.close());

  it("rejects paths that are not usable git repositories", async () => {
    const plain = await mkdtemp(path.join(tmpdir(), "loopy-plain-"));
    await expect(h.api.projects.add({ path: plain })).rejects.toThrow(/is not a git repository/);
    await expect(h.api.projects.add({ path: path.join(plain, "nope") })).rejects.toThrow(/No such directory/);
    await expect(h.api.projects.add({ path: "relative/path" })).rejects.toThrow(/must be absolute/);
    await expect(h.api.projects.add({ path: "  " })).rejects.toThrow(/Path is empty/);
    const fresh = await mkdtemp(path.join(tmpdir(), "loopy-fresh-"));
    gitIn(fresh, "init", "-q");
    await expect(h.api.projects.add({ path: fresh })).rejects.toThrow(/has no commits yet/);
    expect((await h.api.projects.list()).map((p) => p.path)).not.toContain(plain);
  });

  it("rejects a second registration of the same repository", async () => {
    const repo = await makeRepo();
    await h.api.projects.add({ path: repo });
    await expect(h.api.projects.add({ path: repo, name: "other-name" })).rejects.toThrow(/already registered/);
  });

  it("rejects an empty command, an unknown base ref, agent, project or timeout before anything is queued", async () => {
    const before = (await h.api.runs.list()).runs.length;
    await expect(h.api.runs.launch({ project, command: "   " })).rejects.toThrow(/Command is empty/);
    await expect(h.api.runs.launch({ project, command: "true", baseRef: "no-such-branch" })).rejects.toThrow(
      /Base ref "no-such-branch" does not exist/,
    );
    await expect(h.api.runs.launch({ project, command: "true", agent: "skynet" })).rejects.toThrow(
      /Unknown agent "skynet"/,
    );
    await expect(h.api.runs.launch({ project: "no-such-project", command: "true" })).rejects.toThrow(
      /No project "no-such-project"/,
    );
    await expect(h.api.runs.launch({ project, command: "true", timeout: "soon" })).rejects.toThrow(/Invalid duration/);
    expect((await h.api.runs.list()).runs.length).toBe(before);
  });

  it("answers unknown runs with NOT_FOUND", async () => {
    await expect(h.api.runs.get({ runId: "zzzzzzzzzz" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

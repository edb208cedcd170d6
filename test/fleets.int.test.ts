import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRunWorker } from "@loopy/queue/run-worker";
import { startFakeModelServer } from "@loopy/fake-models/server";
import { AGENT_BIN_DIR, createHarness, eventually, gitIn, makeRepo, type Harness } from "./harness.ts";

/**
 * Fleets on real things: the tRPC caller, Postgres, BullMQ, a worker with more
 * slots than any fleet's limit (so the limit, not the worker, is what holds
 * members back), git worktrees and child processes.
 */
describe("fleets", () => {
  let h: Harness;
  let repo: string;
  let project: string;
  let scratch: string;

  beforeAll(async () => {
    h = await createHarness();
    repo = await makeRepo();
    project = (await h.api.projects.add({ path: repo, name: `fleet-${path.basename(repo)}` })).name;
    scratch = await mkdtemp(path.join(tmpdir(), "loopy-fleet-scratch-"));
    await h.startWorker(10);
  });
  afterAll(() => h?.close());

  const settled = (fleetId: string, statuses = ["completed", "failed", "cancelled"], timeoutMs = 40_000) =>
    eventually(
      async () => {
        const fleet = await h.api.fleets.get({ fleetId });
        return statuses.includes(fleet.status) &&
          fleet.members.every((m) => !["queued", "running", "verifying"].includes(m.status))
          ? fleet
          : undefined;
      },
      timeoutMs,
      `fleet ${fleetId} to settle`,
    );

  it("runs 20 members with concurrency 4: never more than 4 at once, each with its own LOOPY_MEMBER_INDEX", async () => {
    const log = path.join(scratch, "overlap.log");
    const command = `echo "start $(date +%s%N) $LOOPY_MEMBER_INDEX $LOOPY_FLEET_ID" >> ${log}; sleep 0.4; echo "end $(date +%s%N) $LOOPY_MEMBER_INDEX $LOOPY_FLEET_ID" >> ${log}`;
    const launched = await h.api.fleets.launch({
      kind: "best_of_n",
      project,
      agents: ["command"],
      command,
      count: 20,
      concurrency: 4,
    });
    expect(launched).toMatchObject({ kind: "best_of_n", status: "running", concurrency: 4, progress: { total: 20 } });
    expect(launched.members.map((m) => m.memberIndex)).toEqual([...Array(20).keys()]);
    // Only the first four were queued for a worker; the rest wait in Postgres.
    const dispatched = await h.services.db.run.count({ where: { fleetId: launched.id, dispatchedAt: { not: null } } });
    expect(dispatched).toBe(4);

    const fleet = await settled(launched.id, ["completed"], 60_000);
    expect(fleet.progress).toMatchObject({ total: 20, finished: 20, byStatus: { succeeded: 20 } });
    expect(fleet.finishedAt).not.toBeNull();

    const lines = (await readFile(log, "utf8"))
      .trim()
      .split("\n")
      .map((l) => l.split(" "));
    expect(lines).toHaveLength(40);
    expect(new Set(lines.map((l) => l[3]))).toEqual(new Set([launched.id]));
    const starts = lines
      .filter((l) => l[0] === "start")
      .map((l) => Number(l[2]))
      .sort((a, b) => a - b);
    expect(starts).toEqual([...Array(20).keys()]);
    // Replay the start/end times the commands recorded themselves: the most running at one moment.
    const points = lines
      .map((l) => ({ at: BigInt(l[1] as string), delta: l[0] === "start" ? 1 : -1 }))
      .sort((a, b) => (a.at === b.at ? a.delta - b.delta : a.at < b.at ? -1 : 1));
    let now = 0;
    let max = 0;
    for (const p of points) {
      now += p.delta;
      max = Math.max(max, now);
    }
    expect(max).toBeLessThanOrEqual(4);
    expect(max).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it("stops the fleet when its wall-clock budget is spent: running members killed, queued ones cancelled, reason stored", async () => {
    const launched = await h.api.fleets.launch({
      kind: "best_of_n",
      project,
      command: "sleep 30",
      count: 4,
      concurrency: 2,
      budget: { wallClock: "1500ms" },
    });
    const fleet = await settled(launched.id, ["failed"], 20_000);
    expect(fleet.statusReason).toMatch(/^fleet budget spent: wall clock \d/);
    expect(fleet.members.map((m) => m.status)).toEqual(["cancelled", "cancelled", "cancelled", "cancelled"]);
    for (const m of fleet.members) expect(m.statusReason).toContain("fleet budget spent: wall clock");
    // Two had started, two never did.
    expect(fleet.members.filter((m) => m.startedAt !== null)).toHaveLength(2);
    expect(fleet.spent.wallClockMs).toBeGreaterThanOrEqual(1500);
    expect(fleet.spent.wallClockMs).toBeLessThan(10_000);
  }, 30_000);

  /** A budget spent by the first member: it alone ever ran; the others were cancelled without starting, with the reason. */
  const expectOnlyFirstMemberRan = (fleet: {
    members: Array<{ startedAt: Date | null; memberIndex: number; status: string; statusReason: string | null }>;
  }) => {
    expect(fleet.members.filter((m) => m.startedAt !== null).map((m) => m.memberIndex)).toEqual([0]);
    for (const m of fleet.members.slice(1)) {
      expect(m.status).toBe("cancelled");
      expect(m.statusReason).toContain("fleet budget spent");
    }
  };

  it("stops the fleet when its token budget is spent by an agent's usage, before the next member starts", async () => {
    // Loopy's agent on a fake model that reports 200 input + 40 output tokens per request: one turn is ≥ 480 tokens.
    const model = await startFakeModelServer();
    try {
      await h.api.profiles.add({
        name: "fleet-fake-tokens",
        adapter: "openai-compatible",
        config: { model: "fake-model", baseUrl: `${model.url}/v1` },
      });
      const launched = await h.api.fleets.launch({
        kind: "best_of_n",
        project,
        agents: ["fleet-fake-tokens"],
        prompt: "@write tokens.txt: spent",
        count: 3,
        concurrency: 1,
        budget: { tokens: 300 },
      });
      const fleet = await settled(launched.id, ["failed"], 30_000);
      expect(fleet.statusReason).toMatch(/^fleet budget spent: \d+ of 300 tokens$/);
      expect(fleet.spent.tokens).toBeGreaterThanOrEqual(300);
      expectOnlyFirstMemberRan(fleet);
    } finally {
      await model.close();
    }
  }, 40_000);

  // Claude Code prices its own usage ($3 / $15 per Mtok for Sonnet): the USD budget is spent by a real CLI's reported cost.
  it.skipIf(!existsSync(path.join(AGENT_BIN_DIR, "claude")))(
    "stops the fleet when its USD budget is spent by an agent's reported cost",
    async () => {
      const model = await startFakeModelServer({ usage: { input: 200, output: 40 } });
      try {
        await h.api.profiles.add({
          name: "fleet-fake-usd",
          adapter: "claude-code",
          config: {
            model: "claude-sonnet-4-5",
            baseUrl: model.url,
            secretNames: ["ANTHROPIC_API_KEY", "CLAUDE_CODE_MAX_RETRIES"],
          },
        });
        const launched = await h.api.fleets.launch({
          kind: "best_of_n",
          project,
          agents: ["fleet-fake-usd"],
          prompt: "@write usd.txt: spent\n@say Done",
          count: 3,
          concurrency: 1,
          budget: { usd: 0.001 },
        });
        const fleet = await settled(launched.id, ["failed"], 60_000);
        expect(fleet.statusReason).toMatch(/^fleet budget spent: \$0\.00\d+ of \$0\.001$/);
        expect(fleet.spent.usd).toBeGreaterThan(0.001);
        expectOnlyFirstMemberRan(fleet);
      } finally {
        await model.close();
      }
    },
    90_000,
  );

  it("pauses (no new starts) and resumes", async () => {
    const launched = await h.api.fleets.launch({
      kind: "best_of_n",
      project,
      command: "sleep 0.5",
      count: 3,
      concurrency: 1,
    });
    const paused = await h.api.fleets.pause({ fleetId: launched.id });
    expect(paused.status).toBe("paused");
    await expect(h.api.fleets.pause({ fleetId: launched.id })).rejects.toMatchObject({ code: "CONFLICT" });
    // Long enough for every member to have run if the pause did nothing.
    await new Promise((r) => setTimeout(r, 2_500));
    const during = await h.api.fleets.get({ fleetId: launched.id });
    expect(during.status).toBe("paused");
    // At most the first member (dispatched before the pause) ran; the others never started.
    expect(during.members.slice(1).map((m) => [m.status, m.startedAt])).toEqual([
      ["queued", null],
      ["queued", null],
    ]);

    const resumed = await h.api.fleets.resume({ fleetId: launched.id });
    expect(resumed.status).toBe("running");
    const fleet = await settled(launched.id, ["completed"]);
    expect(fleet.members.map((m) => m.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    await expect(h.api.fleets.resume({ fleetId: launched.id })).rejects.toMatchObject({ code: "CONFLICT" });
  }, 30_000);

  it("cancels a fleet: no member process and no worktree is left behind", async () => {
    const pids = path.join(scratch, "pids");
    // Each member leaves a file in its worktree and records its shell's pid and its child's.
    const command = `echo x > member-$LOOPY_MEMBER_INDEX.txt; sleep 60 & echo $! >> ${pids}; echo $$ >> ${pids}; wait`;
    const launched = await h.api.fleets.launch({ kind: "best_of_n", project, command, count: 4, concurrency: 3 });
    await eventually(
      async () => {
        const text = existsSync(pids) ? await readFile(pids, "utf8") : "";
        return text.trim().split("\n").length >= 6 ? true : undefined;
      },
      15_000,
      "three members to start",
    );
    const running = await h.api.fleets.get({ fleetId: launched.id });
    expect(running.members.filter((m) => m.status === "running")).toHaveLength(3);
    expect(running.members.filter((m) => m.worktreePath && existsSync(m.worktreePath))).toHaveLength(3);

    const cancelled = await h.api.fleets.cancel({ fleetId: launched.id });
    expect(cancelled.status).toBe("cancelled");
    const fleet = await settled(launched.id, ["cancelled"], 20_000);
    expect(fleet.members.map((m) => m.status)).toEqual(["cancelled", "cancelled", "cancelled", "cancelled"]);
    expect(fleet.members[3]?.startedAt).toBeNull();
    expect(fleet.members.map((m) => m.worktreePath)).toEqual([null, null, null, null]);

    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const recorded = (await readFile(pids, "utf8")).trim().split("\n").map(Number);
    expect(recorded).toHaveLength(6);
    await eventually(
      async () => (recorded.every((pid) => !alive(pid)) ? true : undefined),
      5_000,
      "member processes to be gone",
    );
    const worktrees = existsSync(path.join(h.home, "worktrees")) ? await readdir(path.join(h.home, "worktrees")) : [];
    for (const m of fleet.members) expect(worktrees).not.toContain(m.id);
    const listed = gitIn(repo, "worktree", "list");
    for (const m of fleet.members) expect(listed).not.toContain(m.id);
    await expect(h.api.fleets.cancel({ fleetId: launched.id })).rejects.toMatchObject({ code: "CONFLICT" });
  }, 40_000);

  it("ranks a best-of-3 (a failing checkpoint last, then the declared metric) and approves the winner, rejecting the rest", async () => {
    const rankRepo = await makeRepo({ "README.md": "rank me\n" });
    const name = (await h.api.projects.add({ path: rankRepo, name: `rank-${path.basename(rankRepo)}` })).name;
    // Member 1 leaves a file the checkpoint forbids; members 0 and 2 write 1 and 3 lines, and score is the line count.
    const command = `if [ "$LOOPY_MEMBER_INDEX" = 1 ]; then echo oops > bad.txt; else seq 1 $((LOOPY_MEMBER_INDEX + 1)) > out.txt; fi`;
    const launched = await h.api.fleets.launch({
      kind: "best_of_n",
      project: name,
      command,
      count: 3,
      concurrency: 3,
      metric: { name: "score", direction: "max" },
      checkpoints: [
        { kind: "command", name: "no-bad-file", command: "test ! -f bad.txt" },
        {
          kind: "command",
          name: "score",
          command: 'echo "score: $(cat out.txt 2>/dev/null | wc -l)"',
          required: false,
        },
      ],
    });
    const fleet = await settled(launched.id, ["completed"]);
    expect(fleet.members.map((m) => m.status)).toEqual(["awaiting_review", "needs_attention", "awaiting_review"]);
    expect(fleet.members.map((m) => m.metric)).toEqual([1, 0, 3]);
    expect(fleet.members.map((m) => m.diffLines)).toEqual([1, 1, 3]);
    expect(fleet.members[1]?.checks).toContainEqual({
      name: "no-bad-file",
      kind: "command",
      required: true,
      passed: false,
    });

    const ranking = await h.api.fleets.rank({ fleetId: launched.id });
    expect(ranking.members.map((m) => m.memberIndex)).toEqual([2, 0, 1]);
    expect(ranking.members.map((m) => m.rank)).toEqual([1, 2, 3]);
    expect(ranking.members[0]?.reasons).toEqual([
      "all required checkpoints green",
      "score 3 (higher is better)",
      "diff 3 lines (+3 −0)",
      "cost $0.0000",
    ]);
    expect(ranking.members[2]).toMatchObject({
      eligible: false,
      reasons: expect.arrayContaining(["a required checkpoint failed"]),
    });

    // Choosing the failing member is refused by the normal approval.
    await expect(
      h.api.fleets.approveWinner({ fleetId: launched.id, runId: fleet.members[1]!.id }),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    const result = await h.api.fleets.approveWinner({ fleetId: launched.id });
    expect(result.winner).toMatchObject({ runId: fleet.members[2]!.id, memberIndex: 2, target: "main" });
    expect(result.rejected.sort()).toEqual([fleet.members[0]!.id, fleet.members[1]!.id].sort());
    expect(gitIn(rankRepo, "show", "main:out.txt")).toBe("1\n2\n3");
    const after = await h.api.fleets.get({ fleetId: launched.id });
    expect(after.members.map((m) => m.status)).toEqual(["rejected", "rejected", "merged"]);
    expect(after.members.map((m) => m.worktreePath)).toEqual([null, null, null]);
  }, 40_000);

  it("runs a batch across projects, routing each task's agent by its tags and saying which rule chose it", async () => {
    const other = await makeRepo({ "docs.md": "old\n" });
    const otherName = (await h.api.projects.add({ path: other, name: `batch-${path.basename(other)}` })).name;
    await h.api.profiles.add({ name: `shell-${path.basename(other)}`.slice(0, 60), adapter: "command" });
    const profile = `shell-${path.basename(other)}`.slice(0, 60);
    await h.api.projects.update({ project: otherName, routingRules: [{ tag: "docs", agent: profile }] });
    await expect(
      h.api.projects.update({ project: otherName, routingRules: [{ tag: "docs", agent: "no-such-profile" }] }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });

    const launched = await h.api.fleets.launch({
      kind: "batch",
      tasks: [
        { project, command: "echo $LOOPY_MEMBER_INDEX > batch.txt" },
        { project: otherName, command: "echo $LOOPY_MEMBER_INDEX > docs.md", tags: ["Docs"] },
      ],
    });
    const fleet = await settled(launched.id, ["completed"]);
    expect(fleet.kind).toBe("batch");
    expect(fleet.members.map((m) => [m.project.name, m.status, m.profile, m.task.routedBy, m.task.tags])).toEqual([
      [project, "awaiting_review", null, null, []],
      [otherName, "awaiting_review", profile, `tag docs → ${profile}`, ["docs"]],
    ]);
    expect(gitIn(other, "show", `${fleet.members[1]!.branch}:docs.md`)).toBe("1");
    // Ranking and a winner are for best-of-N only.
    await expect(h.api.fleets.rank({ fleetId: launched.id })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(h.api.fleets.approveWinner({ fleetId: launched.id })).rejects.toMatchObject({ code: "BAD_REQUEST" });

    // A single run routes the same way.
    const run = await h.api.runs.launch({ project: otherName, command: "true", tags: ["docs"] });
    expect(run.task).toMatchObject({ routedBy: `tag docs → ${profile}`, agentProfile: { name: profile } });
    await h.api.fleets.cancel({ fleetId: launched.id });
  }, 40_000);

  it("refuses bad input with a clear message and writes nothing", async () => {
    const count = async () => [
      await h.services.db.fleet.count(),
      await h.services.db.run.count(),
      await h.services.db.task.count(),
    ];
    const before = await count();
    const bad: Array<[Parameters<typeof h.api.fleets.launch>[0], string, RegExp]> = [
      [{ kind: "best_of_n", project: "nope", command: "true", count: 2 }, "NOT_FOUND", /No project "nope"/],
      [
        { kind: "best_of_n", project, agents: ["no-such-agent"], prompt: "x", count: 2 },
        "BAD_REQUEST",
        /Unknown agent "no-such-agent"/,
      ],
      [{ kind: "best_of_n", project, command: "  ", count: 2 }, "BAD_REQUEST", /Command is empty/],
      [{ kind: "best_of_n", project, command: "true", count: 0 }, "BAD_REQUEST", /Count must be a whole number from 1/],
      [{ kind: "best_of_n", project, command: "true", count: 2, concurrency: 0 }, "BAD_REQUEST", /Concurrency must be/],
      [
        { kind: "best_of_n", project, agents: ["command", "command", "command"], command: "true", count: 2 },
        "BAD_REQUEST",
        /3 agents for 2 members/,
      ],
      [
        { kind: "best_of_n", project, command: "true", count: 2, budget: { usd: -1 } },
        "BAD_REQUEST",
        /USD budget must be/,
      ],
      [
        { kind: "best_of_n", project, command: "true", count: 2, budget: { wallClock: "soon" } },
        "BAD_REQUEST",
        /budget.wallClock/,
      ],
      [
        { kind: "best_of_n", project, command: "true", count: 2, metric: { name: "1bad", direction: "min" } },
        "BAD_REQUEST",
        /Invalid metric name/,
      ],
      [
        { kind: "best_of_n", project, command: "true", count: 2, baseRef: "no-such-branch" },
        "BAD_REQUEST",
        /Base ref "no-such-branch" does not exist/,
      ],
      [{ kind: "batch", tasks: [] }, "BAD_REQUEST", /at least one task/],
      // The second task is bad: the first is not written either.
      [
        {
          kind: "batch",
          tasks: [
            { project, command: "true" },
            { project, command: "" },
          ],
        },
        "BAD_REQUEST",
        /Task 2 .*Command is empty/,
      ],
      [{ kind: "batch", tasks: [{ project, command: "true", tags: ["Not A Tag!"] }] }, "BAD_REQUEST", /Invalid tag/],
    ];
    for (const [input, code, message] of bad) {
      await expect(h.api.fleets.launch(input), JSON.stringify(input)).rejects.toMatchObject({
        code,
        message: expect.stringMatching(message),
      });
    }
    await expect(h.api.fleets.get({ fleetId: "nope" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(h.api.fleets.pause({ fleetId: "nope" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await count()).toEqual(before);
  });
});

describe("fleets under the global limit (LOOPY_MAX_RUNNING)", () => {
  let h: Harness;
  let stop: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await stop?.();
    await h?.close();
  });

  it("two fleets together never run more members than the global limit", async () => {
    h = await createHarness();
    // The API's and the worker's dispatcher both keep to 2, whatever each fleet allows.
    h.services.maxRunning = 2;
    const worker = await startRunWorker({
      db: h.services.db,
      notifier: h.services.notifier,
      redisUrl: h.workerEnv.REDIS_URL as string,
      prefix: h.services.prefix,
      concurrency: 8,
      loopyHome: h.home,
      maxRunning: 2,
    });
    stop = () => worker.close({ cancelRunning: true });
    const repo = await makeRepo();
    const project = (await h.api.projects.add({ path: repo, name: `global-${path.basename(repo)}` })).name;
    const log = path.join(await mkdtemp(path.join(tmpdir(), "loopy-fleet-global-")), "overlap.log");
    const command = `echo "start $(date +%s%N)" >> ${log}; sleep 2; echo "end $(date +%s%N)" >> ${log}`;
    const a = await h.api.fleets.launch({ kind: "best_of_n", project, command, count: 3, concurrency: 3 });
    const b = await h.api.fleets.launch({ kind: "best_of_n", project, command, count: 3, concurrency: 3 });
    for (const id of [a.id, b.id]) {
      await eventually(
        async () => ((await h.api.fleets.get({ fleetId: id })).status === "completed" ? true : undefined),
        40_000,
        `fleet ${id}`,
      );
    }
    const points = (await readFile(log, "utf8"))
      .trim()
      .split("\n")
      .map((l) => l.split(" "))
      .map((l) => ({ at: BigInt(l[1] as string), delta: l[0] === "start" ? 1 : -1 }))
      .sort((x, y) => (x.at === y.at ? x.delta - y.delta : x.at < y.at ? -1 : 1));
    expect(points).toHaveLength(12);
    let now = 0;
    let max = 0;
    for (const p of points) {
      now += p.delta;
      max = Math.max(max, now);
    }
    expect(max).toBeLessThanOrEqual(2);
  }, 60_000);
});

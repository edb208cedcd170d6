import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeModelServer, type FakeModelServer } from "@loopy/fake-models/server";
import { AGENT_BIN_DIR, createHarness, eventually, gitIn, makeRepo, type Harness } from "./harness.ts";

/**
 * The coding loop on real Postgres, Redis, git and agent processes: agents
 * backed by fake model servers (real clients, fake wire), checkpoints after
 * every turn with failures fed back, review comments, request changes, approve
 * (merge), reject, and the ways a run ends up needing attention.
 */
describe("coding loop", () => {
  let h: Harness;
  let model: FakeModelServer;
  let n = 0;

  beforeAll(async () => {
    h = await createHarness();
    model = await startFakeModelServer();
    await h.startWorker();
    await h.api.profiles.add({
      name: "fake-oai",
      adapter: "openai-compatible",
      config: { model: "fake-model", baseUrl: `${model.url}/v1`, maxTurns: 20 },
    });
  });
  afterAll(async () => {
    await h?.close();
    await model?.close();
  });

  async function project(
    checkpoints: unknown[] = [],
    files?: Record<string, string>,
    settings: { maxAttempts?: number; mergeStrategy?: "merge" | "squash" } = {},
  ) {
    const repo = await makeRepo(files ?? { "README.md": "hello\n", "tests/spec.txt": "the spec\n" });
    const name = `loop-${++n}-${path.basename(repo)}`;
    await h.api.projects.add({ path: repo, name, checkpoints });
    if (Object.keys(settings).length) await h.api.projects.update({ project: name, ...settings });
    return { repo, name };
  }

  const settled = (runId: string) =>
    eventually(
      async () => {
        const run = await h.api.runs.get({ runId });
        return [
          "succeeded",
          "failed",
          "cancelled",
          "awaiting_review",
          "needs_attention",
          "merged",
          "rejected",
        ].includes(run.status)
          ? run
          : undefined;
      },
      30_000,
      `run ${runId} to settle`,
    );

  it("feeds a failing checkpoint back to the same agent session until it passes, then waits for review", async () => {
    const p = await project([{ name: "notes-fixed", kind: "command", command: "grep -q fixed notes.txt" }]);
    const { id } = await h.api.runs.launch({
      project: p.name,
      agent: "fake-oai",
      prompt: "Write the notes.\n@write notes.txt: first draft\n@2 write notes.txt: fixed draft",
    });
    const run = await settled(id);
    expect(run).toMatchObject({ status: "awaiting_review", turns: 2, checksPassed: true });
    const turns = await h.api.runs.turns({ runId: id });
    expect(turns.map((t) => t.kind)).toEqual(["initial", "checkpoint_feedback"]);
    expect(turns[1]!.prompt).toContain("notes-fixed");
    const checks = await h.api.runs.checks({ runId: id });
    expect(checks.map((c) => [c.turnIndex, c.name, c.passed])).toEqual([
      [0, "notes-fixed", false],
      [1, "notes-fixed", true],
    ]);
    expect(run.inputTokens).toBeGreaterThan(0);
    expect(gitIn(p.repo, "show", `${run.branch}:notes.txt`)).toBe("fixed draft");
    // The second model call of turn 2 saw the first turn: one session.
    const events = (await h.api.runs.eventLog({ runId: id })).map((e) => e.event);
    const sessions = new Set(events.flatMap((e) => (e.type === "session" ? [e.id] : [])));
    expect(sessions.size).toBe(1);
  });

  it("needs attention when the same checkpoint fails three turns in a row", async () => {
    const p = await project([{ name: "never", kind: "command", command: "false" }], undefined, { maxAttempts: 10 });
    const { id } = await h.api.runs.launch({
      project: p.name,
      agent: "fake-oai",
      prompt: "@write a.txt: one\n@2 write a.txt: two\n@3 write a.txt: three",
    });
    const run = await settled(id);
    expect(run).toMatchObject({ status: "needs_attention", turns: 3, checksPassed: false });
    expect(run.statusReason).toBe('Checkpoint "never" failed 3 times in a row');
    await expect(h.api.review.approve({ runId: id })).rejects.toThrow(/needs attention/);
  });

  it("stops at the project's attempts", async () => {
    const p = await project([{ name: "never", kind: "command", command: "exit 1" }], undefined, { maxAttempts: 2 });
    const { id } = await h.api.runs.launch({
      project: p.name,
      agent: "fake-oai",
      prompt: "@write a.txt: one\n@2 write a.txt: two",
    });
    expect(await settled(id)).toMatchObject({
      status: "needs_attention",
      turns: 2,
      statusReason: "Checkpoint never still failing after 2 attempts",
    });
  });

  it("needs attention when an agent changes a protected file or nothing at all", async () => {
    const p = await project([{ name: "tests-untouched", kind: "protected_paths", globs: ["tests/**"] }]);
    const touched = await h.api.runs.launch({
      project: p.name,
      agent: "fake-oai",
      prompt: "@write tests/spec.txt: weakened",
    });
    expect(await settled(touched.id)).toMatchObject({
      status: "needs_attention",
      statusReason: "Changed protected files (tests/**):",
    });
    const added = await h.api.runs.launch({
      project: p.name,
      agent: "fake-oai",
      prompt: "@write tests/new.txt: a new test is fine",
    });
    expect(await settled(added.id)).toMatchObject({ status: "awaiting_review" });
    const idle = await h.api.runs.launch({ project: p.name, agent: "fake-oai", prompt: "Nothing to do here." });
    expect(await settled(idle.id)).toMatchObject({
      status: "needs_attention",
      statusReason: "The agent finished without changing anything (empty diff)",
    });
    const asking = await h.api.runs.launch({
      project: p.name,
      agent: "fake-oai",
      prompt: "@say Should the greeting be formal or casual?",
    });
    expect(await settled(asking.id)).toMatchObject({
      status: "needs_attention",
      statusReason: "The agent asks: Should the greeting be formal or casual?",
    });
    // The answer goes back as a follow-up and the agent carries on.
    await h.api.review.requestChanges({ runId: asking.id, message: "Casual.\n@write greeting.txt: hey" });
    expect(
      await eventually(
        async () => ((await h.api.runs.get({ runId: asking.id })).status === "awaiting_review" ? true : undefined),
        20_000,
        "answered run",
      ),
    ).toBe(true);
  });

  it("a command run that fails a checkpoint cannot be fed back and needs attention", async () => {
    const p = await project([{ name: "small", kind: "max_changed_lines", max: 1 }]);
    const { id } = await h.api.runs.launch({ project: p.name, command: "printf 'a\\nb\\nc\\n' > big.txt" });
    expect(await settled(id)).toMatchObject({
      status: "needs_attention",
      statusReason: "Checkpoint small failed",
      checksPassed: false,
    });
    await expect(h.api.review.requestChanges({ runId: id, message: "smaller please" })).rejects.toThrow(
      /cannot take follow-ups/,
    );
  });

  it("sends inline comments back to the agent, resolves them, and merges on approval", async () => {
    const p = await project([], undefined, { mergeStrategy: "squash" });
    const { id } = await h.api.runs.launch({
      project: p.name,
      agent: "fake-oai",
      prompt: "Add a greeting.\n@write greeting.txt: hello\\nworld",
    });
    const first = await settled(id);
    expect(first.status).toBe("awaiting_review");

    await expect(h.api.review.addComment({ runId: id, path: "greeting.txt", line: 7, body: "?" })).rejects.toThrow(
      /Line 7 is not in greeting.txt \(it has 2 lines/,
    );
    await expect(h.api.review.addComment({ runId: id, path: "nope.txt", line: 1, body: "?" })).rejects.toThrow(
      /not part of run/,
    );
    await h.api.review.addComment({
      runId: id,
      path: "greeting.txt",
      line: 2,
      body: "Say loopy instead.\n@write greeting.txt: hello\\nloopy",
    });
    const sent = await h.api.review.requestChanges({ runId: id, message: "One fix." });
    expect(sent).toMatchObject({ turn: 1, comments: 1 });
    // A second request, or an approval, while the follow-up waits is refused, not doubled.
    await expect(h.api.review.requestChanges({ runId: id, message: "And another." })).rejects.toThrow(
      /already requested|is running|wait/,
    );
    await expect(h.api.review.approve({ runId: id })).rejects.toThrow(/wait/);
    const second = await eventually(
      async () => {
        const r = await h.api.runs.get({ runId: id });
        return r.status === "awaiting_review" && r.turns === 2 ? r : undefined;
      },
      30_000,
      "the second turn",
    );
    expect(gitIn(p.repo, "show", `${second.branch}:greeting.txt`)).toBe("hello\nloopy");
    // Each turn's own change, next to the whole run's.
    const secondTurn = await h.api.runs.turnDiff({ runId: id, turnIndex: 1 });
    expect(secondTurn.diffStats).toEqual([
      { path: "greeting.txt", status: "modified", additions: 1, deletions: 1, binary: false },
    ]);
    expect(secondTurn.diff).toContain("-world");
    expect((await h.api.runs.turnDiff({ runId: id, turnIndex: 0 })).diffStats).toEqual([
      { path: "greeting.txt", status: "added", additions: 2, deletions: 0, binary: false },
    ]);
    await expect(h.api.runs.turnDiff({ runId: id, turnIndex: 5 })).rejects.toThrow(/has no turn 6/);
    const turns = await h.api.runs.turns({ runId: id });
    expect(turns[1]).toMatchObject({ kind: "review_feedback" });
    expect(turns[1]!.prompt).toContain("greeting.txt:2: Say loopy instead.");
    expect((await h.api.review.comments({ runId: id })).map((c) => c.status)).toEqual(["resolved"]);

    const inbox = await h.api.review.inbox();
    expect(inbox.map((r) => r.id)).toContain(id);
    const approved = await h.api.review.approve({ runId: id });
    expect(await readFile(path.join(p.repo, "greeting.txt"), "utf8")).toBe("hello\nloopy\n");
    // Squash: one new commit on main whose parent is the old main.
    expect(gitIn(p.repo, "rev-list", "--count", "main")).toBe("2");
    expect(gitIn(p.repo, "rev-parse", "main")).toBe(approved.mergedSha);
    expect((await h.api.review.inbox()).map((r) => r.id)).not.toContain(id);
    await expect(h.api.review.requestChanges({ runId: id, message: "more" })).rejects.toThrow(
      /already ended \(merged\)/,
    );
  });

  it("a follow-up that only asks a question needs attention and leaves the comment open", async () => {
    const p = await project();
    const { id } = await h.api.runs.launch({ project: p.name, agent: "fake-oai", prompt: "@write plan.txt: step one" });
    expect((await settled(id)).status).toBe("awaiting_review");
    await h.api.review.addComment({
      runId: id,
      path: "plan.txt",
      line: 1,
      body: "Add step two.\n@say Before or after step one?",
    });
    await h.api.review.requestChanges({ runId: id });
    const run = await eventually(
      async () => {
        const r = await h.api.runs.get({ runId: id });
        return r.turns === 2 && r.status === "needs_attention" ? r : undefined;
      },
      20_000,
      "the question",
    );
    expect(run.statusReason).toBe("The agent asks: Before or after step one?");
    expect((await h.api.review.comments({ runId: id })).map((c) => c.status)).toEqual(["sent"]);
  });

  it("refuses to merge over a conflict and says where", async () => {
    const p = await project();
    const { id } = await h.api.runs.launch({
      project: p.name,
      agent: "fake-oai",
      prompt: "@write README.md: agent version",
    });
    expect((await settled(id)).status).toBe("awaiting_review");
    await writeFile(path.join(p.repo, "README.md"), "someone else's version\n");
    gitIn(p.repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "concurrent change");
    await expect(h.api.review.approve({ runId: id })).rejects.toThrow(
      /conflicts in README.md\. Request changes and ask the agent to rebase/,
    );
    expect((await h.api.runs.get({ runId: id })).status).toBe("awaiting_review");
    expect(await readFile(path.join(p.repo, "README.md"), "utf8")).toBe("someone else's version\n");
  });

  it("rejecting ends the run, removes the worktree and keeps the branch", async () => {
    const p = await project();
    const { id } = await h.api.runs.launch({ project: p.name, agent: "fake-oai", prompt: "@write idea.txt: maybe" });
    const run = await settled(id);
    await h.api.review.reject({ runId: id, reason: "Not now" });
    expect(await h.api.runs.get({ runId: id })).toMatchObject({
      status: "rejected",
      statusReason: "Not now",
      worktreePath: null,
    });
    expect(existsSync(run.worktreePath!)).toBe(false);
    expect(gitIn(p.repo, "show", `${run.branch}:idea.txt`)).toBe("maybe");
  });

  it("refuses a profile whose CLI is not installed, and follow-ups to runs whose agent is gone", async () => {
    const p = await project();
    await h.api.profiles.add({
      name: "claude-missing",
      adapter: "claude-code",
      config: { model: "claude-sonnet-4-5" },
    });
    const saved = { dirs: h.services.agentBinDirs, path: process.env.PATH };
    h.services.agentBinDirs = [];
    process.env.PATH = "/usr/bin:/bin";
    try {
      await expect(h.api.runs.launch({ project: p.name, agent: "claude-missing", prompt: "hi" })).rejects.toThrow(
        /Profile "claude-missing" cannot run here: Claude Code is not installed/,
      );
    } finally {
      h.services.agentBinDirs = saved.dirs;
      process.env.PATH = saved.path;
    }
    const { id } = await h.api.runs.launch({ project: p.name, agent: "fake-oai", prompt: "@run sleep 30" });
    await eventually(
      async () => ((await h.api.runs.get({ runId: id })).status === "running" ? true : undefined),
      10_000,
      "running",
    );
    await h.api.runs.cancel({ runId: id });
    expect((await settled(id)).status).toBe("cancelled");
    await expect(h.api.review.requestChanges({ runId: id, message: "try again" })).rejects.toThrow(
      /already ended \(cancelled\).*Launch a new run/,
    );
  });

  it("puts the project's memory in front of the agent and collects the notes it leaves", async () => {
    const p = await project();
    await h.api.projects.saveMemory({ project: p.name, content: "Always answer in haiku." });
    const before = model.requests.length;
    const { id } = await h.api.runs.launch({
      project: p.name,
      agent: "fake-oai",
      prompt: "@write a.txt: done\n@write LOOPY_NOTES.md: The build needs make, not npm.",
    });
    const run = await settled(id);
    expect(run.status).toBe("awaiting_review");
    const sent = JSON.stringify(model.requests.slice(before).map((r) => r.body));
    expect(sent).toContain("Always answer in haiku.");
    const memory = await h.api.projects.memory({ project: p.name });
    expect(memory.current).toMatchObject({
      version: 2,
      content: "Always answer in haiku.\n\nThe build needs make, not npm.",
    });
    expect(memory.versions.map((v) => v.author)).toEqual([`run:${id}`, "person"]);
    // The notes file is memory, not part of the change.
    expect(((await h.api.runs.diff({ runId: id })).diffStats as Array<{ path: string }>).map((f) => f.path)).toEqual([
      "a.txt",
    ]);
  });

  it("fails a run whose profile names a secret the worker does not have", async () => {
    const p = await project();
    await h.api.profiles.add({
      name: "needs-key",
      adapter: "openai-compatible",
      config: { model: "fake-model", baseUrl: `${model.url}/v1`, secretNames: ["NO_SUCH_API_KEY"] },
    });
    const { id } = await h.api.runs.launch({ project: p.name, agent: "needs-key", prompt: "@write a.txt: x" });
    expect(await settled(id)).toMatchObject({
      status: "failed",
      statusReason:
        "The profile needs NO_SUCH_API_KEY, which is neither a stored secret nor set in the worker's environment",
    });
  });

  it("refuses bad profiles and checkpoints with a clear message", async () => {
    await expect(h.api.profiles.add({ name: "x", adapter: "nope" })).rejects.toThrow(/Unknown adapter "nope"/);
    await expect(
      h.api.profiles.add({ name: "y", adapter: "openai-compatible", config: { baseUrl: "not a url" } }),
    ).rejects.toThrow(/baseUrl must be a URL/);
    await expect(h.api.profiles.add({ name: "fake-oai", adapter: "openai-compatible" })).rejects.toThrow(
      /already exists/,
    );
    await expect(
      h.api.profiles.add({ name: "leaky", adapter: "command", config: { secretNames: ["DATABASE_URL"] } }),
    ).rejects.toThrow(/cannot be given to an agent/);
    await expect(
      h.api.projects.add({ path: await makeRepo(), checkpoints: [{ name: "t", kind: "command" }] }),
    ).rejects.toThrow(/Invalid checkpoints in the project: 0.command/);
    await expect(
      h.api.projects.add({
        path: await makeRepo(),
        checkpoints: [{ name: "t", kind: "command", command: "x", timeout: "soon" }],
      }),
    ).rejects.toThrow(/Invalid duration/);
  });

  describe.skipIf(!existsSync(path.join(AGENT_BIN_DIR, "claude")))("with the real Claude Code CLI", () => {
    it("runs a turn, records usage and cost, and continues the same session on request changes", async () => {
      const p = await project([{ name: "has-notes", kind: "command", command: "test -s notes.txt" }]);
      await h.api.profiles.add({
        name: "claude-fake",
        adapter: "claude-code",
        config: {
          model: "claude-sonnet-4-5",
          baseUrl: model.url,
          secretNames: ["ANTHROPIC_API_KEY", "CLAUDE_CODE_MAX_RETRIES"],
          maxTurns: 10,
        },
      });
      const { id } = await h.api.runs.launch({
        project: p.name,
        agent: "claude-fake",
        prompt: "Write notes.\n@write notes.txt: from claude",
      });
      const run = await settled(id);
      expect(run).toMatchObject({ status: "awaiting_review", checksPassed: true });
      expect(run.costUsd).toBeGreaterThan(0);
      const sessionBefore = (await h.services.db.run.findUniqueOrThrow({ where: { id } })).sessionId;
      expect(sessionBefore).toBeTruthy();
      await h.api.review.requestChanges({ runId: id, message: "Improve it.\n@write notes.txt: improved by claude" });
      const again = await eventually(
        async () => {
          const r = await h.api.runs.get({ runId: id });
          return r.status === "awaiting_review" && r.turns === 2 ? r : undefined;
        },
        30_000,
        "second Claude turn",
      );
      expect(gitIn(p.repo, "show", `${again.branch}:notes.txt`)).toBe("improved by claude");
      expect((await h.services.db.run.findUniqueOrThrow({ where: { id } })).sessionId).toBe(sessionBefore);
      expect(again.costUsd).toBeGreaterThan(run.costUsd);
    });
  });
});

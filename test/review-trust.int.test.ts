import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser } from "@loopy/core/access";
import type { Actor } from "@loopy/core/access/roles";
import { runTimesAt } from "@loopy/core/runs/times";
import { startFakeModelServer, type FakeModelServer } from "@loopy/fake-models/server";
import { createHarness, eventually, gitIn, makeRepo, type Harness } from "./harness.ts";

/**
 * Review you can trust: the commit an approval puts on the default branch says
 * what the run was and who approved it, and a run's times (agent, checks,
 * waiting for review) are the same figures wherever they are shown.
 */
describe("review you can trust", () => {
  let h: Harness;
  let reviewer: Actor;
  let model: FakeModelServer;
  let n = 0;

  beforeAll(async () => {
    h = await createHarness();
    await h.startWorker();
    model = await startFakeModelServer();
    await h.api.profiles.add({
      name: "trust-oai",
      adapter: "openai-compatible",
      config: { model: "fake-model", baseUrl: `${model.url}/v1`, maxTurns: 20 },
    });
    const user = await createUser(h.services.db, { name: `rita-${Date.now().toString(36)}`, role: "reviewer" });
    reviewer = { userId: user.id, name: user.name, role: "reviewer", via: "token" };
  });
  afterAll(async () => {
    await h?.close();
    await model?.close();
  });

  async function project(
    checkpoints: unknown[] = [],
    settings: { mergeStrategy?: "merge" | "squash"; commitAuthorName?: string; commitAuthorEmail?: string } = {},
  ) {
    const repo = await makeRepo();
    const name = `trust-${++n}-${path.basename(repo)}`;
    await h.api.projects.add({ path: repo, name, checkpoints });
    if (Object.keys(settings).length) await h.api.projects.update({ project: name, ...settings });
    return { repo, name };
  }

  const waiting = (runId: string) =>
    eventually(
      async () => {
        const run = await h.api.runs.get({ runId });
        if (["failed", "cancelled", "succeeded", "needs_attention"].includes(run.status))
          throw new Error(`run ${runId} ended ${run.status}: ${run.statusReason}`);
        return run.status === "awaiting_review" ? run : undefined;
      },
      30_000,
      `run ${runId} to wait for review`,
    );

  it("titles the merge commit with the run's title, records the approver and the run in trailers, authored as the project says", async () => {
    const p = await project([{ name: "greeting", kind: "command", command: "grep -q hello greeting.txt" }], {
      commitAuthorName: "Ada Lovelace",
      commitAuthorEmail: "ada@example.com",
    });
    expect(await h.api.projects.get({ project: p.name })).toMatchObject({
      commitAuthorName: "Ada Lovelace",
      commitAuthorEmail: "ada@example.com",
    });
    const { id } = await h.api.runs.launch({
      project: p.name,
      agent: "command",
      command:
        "# Add a greeting file for the people who read the repository first thing in the morning\necho hello > greeting.txt",
    });
    await waiting(id);
    const approved = await h.apiAs(reviewer).review.approve({ runId: id });
    const log = (format: string) => gitIn(p.repo, "log", "-1", `--format=${format}`, "main");
    expect(log("%H")).toBe(approved.mergedSha);
    expect(log("%s")).toBe("Add a greeting file for the people who read the repository first...");
    expect(log("%s").length).toBeLessThanOrEqual(72);
    expect(log("%an <%ae>")).toBe("Ada Lovelace <ada@example.com>");
    expect(log("%cn <%ce>")).toBe("Loopy <loopy@localhost>");
    expect(log("%b")).toContain("Agent: command, 1 turn");
    expect(log("%b")).toMatch(/Checkpoints: greeting passed in \d+\.\ds/);
    expect(log("%(trailers:key=Reviewed-by,valueonly)")).toBe(`${reviewer.name} <${reviewer.name}@loopy>`);
    expect(log("%(trailers:key=Loopy-Run,valueonly)")).toBe(`${h.services.env.LOOPY_URL}/runs/${id}`);
  });

  it("a squash without a project author is Loopy's, with the same trailers", async () => {
    const p = await project([], { mergeStrategy: "squash" });
    const { id } = await h.api.runs.launch({ project: p.name, agent: "command", command: "echo hi > hi.txt" });
    await waiting(id);
    await h.apiAs(reviewer).review.approve({ runId: id });
    const log = (format: string) => gitIn(p.repo, "log", "-1", `--format=${format}`, "main");
    expect(log("%s")).toBe("echo hi > hi.txt");
    expect(log("%P").split(" ")).toHaveLength(1);
    expect(log("%an <%ae> / %cn <%ce>")).toBe("Loopy <loopy@localhost> / Loopy <loopy@localhost>");
    expect(log("%(trailers:key=Reviewed-by,valueonly)")).toBe(`${reviewer.name} <${reviewer.name}@loopy>`);
    // Clearing the name gives the commits back to Loopy; an email alone is refused.
    await expect(h.api.projects.update({ project: p.name, commitAuthorEmail: "x@example.com" })).rejects.toThrow(
      /needs a name/,
    );
    await h.api.projects.update({ project: p.name, commitAuthorName: "Bot", commitAuthorEmail: "" });
    expect(await h.api.projects.get({ project: p.name })).toMatchObject({
      commitAuthorName: "Bot",
      commitAuthorEmail: null,
    });
  });

  it("agent, checks and waiting times are the same in runs.get, runs.list, overview.get and the inbox; only waiting grows while a run waits", async () => {
    const p = await project([
      { name: "slow", kind: "command", command: "sleep 0.6" },
      { name: "quick", kind: "command", command: "sleep 0.3" },
    ]);
    const { id } = await h.api.runs.launch({
      project: p.name,
      agent: "command",
      command: "sleep 1; echo done > done.txt",
    });
    await waiting(id);
    const everywhere = async () => {
      const [get, list, overview, inbox] = await Promise.all([
        h.api.runs.get({ runId: id }),
        h.api.runs.list({ limit: 500 }),
        h.api.overview.get(),
        h.api.review.inbox(),
      ]);
      return {
        get: get.times,
        list: list.runs.find((r) => r.id === id)?.times,
        overview: overview.runs.find((r) => r.id === id)?.times,
        inbox: inbox.find((r) => r.id === id)?.times,
      };
    };
    const first = await everywhere();
    expect(first.list).toEqual(first.get);
    expect(first.overview).toEqual(first.get);
    expect(first.inbox).toEqual(first.get);
    const times = first.get;
    // The agent slept 1 s; the checkpoints 0.6 + 0.3 s, as their own results say.
    expect(times.agentMs).toBeGreaterThanOrEqual(1000);
    expect(times.agentMs).toBeLessThan(10_000);
    const checks = await h.api.runs.checks({ runId: id });
    expect(times.checksMs).toBe(checks.reduce((sum, c) => sum + c.durationMs, 0));
    expect(times.checksMs).toBeGreaterThanOrEqual(900);
    expect(times).toMatchObject({ agentSince: null, waitingMs: 0 });
    expect(times.waitingSince).toBeInstanceOf(Date);

    // Waiting for review: the agent's time stays, the waiting time grows.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const later = await everywhere();
    expect(later.get).toEqual(first.get);
    expect(later.overview).toEqual(first.get);
    const now = Date.now();
    expect(runTimesAt(later.get, now).agentMs).toBe(times.agentMs);
    expect(runTimesAt(later.get, now).waitingMs).toBeGreaterThanOrEqual(1200);

    // The wait ends with the decision: the waiting time stops and is stored.
    await h.apiAs(reviewer).review.reject({ runId: id });
    const ended = await h.api.runs.get({ runId: id });
    expect(ended.times).toMatchObject({
      agentMs: times.agentMs,
      checksMs: times.checksMs,
      agentSince: null,
      waitingSince: null,
    });
    expect(ended.times.waitingMs).toBeGreaterThanOrEqual(1200);
    expect((await h.api.runs.list({ limit: 500 })).runs.find((r) => r.id === id)?.times).toEqual(ended.times);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await h.api.runs.get({ runId: id })).times).toEqual(ended.times);
  });

  it("a follow-up ends one wait and starts another; agent time is the sum of the turns", async () => {
    const p = await project();
    const { id } = await h.api.runs.launch({
      project: p.name,
      agent: "trust-oai",
      prompt: "@write a.txt: one\n@2 write a.txt: two",
    });
    await waiting(id);
    await new Promise((resolve) => setTimeout(resolve, 600));
    await h.apiAs(reviewer).review.requestChanges({ runId: id, message: "Once more." });
    const run = await eventually(
      async () => {
        const r = await h.api.runs.get({ runId: id });
        return r.status === "awaiting_review" && r.turns === 2 ? r : undefined;
      },
      30_000,
      "the second turn",
    );
    const turns = await h.api.runs.turns({ runId: id });
    const agentMs = turns.reduce((sum, t) => sum + (t.finishedAt!.getTime() - t.startedAt!.getTime()), 0);
    expect(run.times).toMatchObject({ agentMs, checksMs: 0, agentSince: null });
    // The first wait is stored; the second one runs from the end of the second turn.
    expect(run.times.waitingMs).toBeGreaterThanOrEqual(600);
    expect(run.times.waitingSince!.getTime()).toBeGreaterThanOrEqual(turns[1]!.finishedAt!.getTime());
    expect((await h.api.review.inbox()).find((r) => r.id === id)?.times).toEqual(run.times);
  });
});

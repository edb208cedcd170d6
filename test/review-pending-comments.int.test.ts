import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeModelServer, type FakeModelServer } from "@loopy/fake-models/server";
import { createHarness, eventually, gitIn, makeRepo, type Harness } from "./harness.ts";

const exec = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Approving a run with comments not sent yet: the merge would end the run and
 * they would never reach the agent, so approval is refused (API and CLI) until
 * they are sent as a change request or discarded on purpose.
 */
describe("approve with pending comments", () => {
  let h: Harness;
  let model: FakeModelServer;
  let url: string;
  let token: string;
  let n = 0;

  beforeAll(async () => {
    h = await createHarness();
    model = await startFakeModelServer();
    ({ url, token } = await h.serveApi("reviewer"));
    await h.startWorker(2);
    await h.api.profiles.add({
      name: "fake-pending",
      adapter: "openai-compatible",
      config: { model: "fake-model", baseUrl: `${model.url}/v1`, maxTurns: 20 },
    });
  });
  afterAll(async () => {
    await h?.close();
    await model?.close();
  });

  async function runAwaitingReview(launch: { agent: string; prompt?: string; command?: string }) {
    const repo = await makeRepo({ "README.md": "hello\n" });
    const project = `pending-${++n}-${path.basename(repo)}`;
    await h.api.projects.add({ path: repo, name: project });
    const { id } = await h.api.runs.launch({ project, ...launch });
    await eventually(
      async () => ((await h.api.runs.get({ runId: id })).status === "awaiting_review" ? true : undefined),
      30_000,
      `run ${id} awaiting review`,
    );
    return { id, repo };
  }

  const loopy = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await exec(process.execPath, [path.join(root, "packages/cli/bin/loopy.js"), ...args], {
        env: { PATH: process.env.PATH ?? "", LOOPY_URL: url, LOOPY_TOKEN: token },
        timeout: 60_000,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it("refuses to approve while comments are not sent, naming the count; discarding them on purpose merges and records it", async () => {
    const { id, repo } = await runAwaitingReview({ agent: "command", command: "printf 'a\\nb\\nc\\n' > notes.txt" });
    for (const line of [1, 2, 3])
      await h.api.review.addComment({ runId: id, path: "notes.txt", line, body: `line ${line}?` });
    const before = gitIn(repo, "rev-parse", "main");

    await expect(h.api.review.approve({ runId: id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: "3 comments not sent yet: send them as a change request, or discard them",
    });
    await expect(h.api.review.approve({ runId: id, pendingComments: "refuse" })).rejects.toMatchObject({
      code: "CONFLICT",
    });
    expect(gitIn(repo, "rev-parse", "main")).toBe(before);
    expect((await h.api.runs.get({ runId: id })).status).toBe("awaiting_review");
    expect((await h.api.review.comments({ runId: id })).map((c) => c.status)).toEqual([
      "pending",
      "pending",
      "pending",
    ]);

    const approved = await h.api.review.approve({ runId: id, pendingComments: "discard" });
    expect(approved.discardedComments).toBe(3);
    expect(gitIn(repo, "rev-parse", "main")).toBe(approved.mergedSha);
    expect((await h.api.runs.get({ runId: id })).status).toBe("merged");
    // Kept, marked: what was not sent stays visible, and the log and the audit say it was dropped on purpose.
    expect((await h.api.review.comments({ runId: id })).map((c) => c.status)).toEqual([
      "discarded",
      "discarded",
      "discarded",
    ]);
    const log = await h.api.runs.eventLog({ runId: id, afterId: null, limit: 1000 });
    expect(
      log.some(
        (e) => e.event.type === "message" && e.event.text === "Review: 3 comments not sent, discarded on approval",
      ),
    ).toBe(true);
    const audit = await h.api.auth.audit({ action: "review.approve" });
    expect(audit.entries.find((e) => e.targetId === id)?.detail).toMatchObject({
      runId: id,
      pendingComments: "discard",
    });
  });

  it("sending the comments as a change request first lets the approval through", async () => {
    const { id, repo } = await runAwaitingReview({
      agent: "fake-pending",
      prompt: "Add a greeting.\n@write greeting.txt: hello\\nworld",
    });
    await h.api.review.addComment({
      runId: id,
      path: "greeting.txt",
      line: 2,
      body: "Say loopy.\n@write greeting.txt: hello\\nloopy",
    });
    await expect(h.api.review.approve({ runId: id })).rejects.toThrow(
      /^1 comment not sent yet: send it as a change request, or discard it$/,
    );

    await h.api.review.requestChanges({ runId: id });
    await eventually(
      async () => {
        const r = await h.api.runs.get({ runId: id });
        return r.status === "awaiting_review" && r.turns === 2 ? r : undefined;
      },
      30_000,
      "the follow-up turn",
    );
    expect((await h.api.review.comments({ runId: id })).map((c) => c.status)).toEqual(["resolved"]);
    const approved = await h.api.review.approve({ runId: id });
    expect(approved.discardedComments).toBe(0);
    expect(gitIn(repo, "show", "main:greeting.txt")).toBe("hello\nloopy");
  });

  it("the winner of a best-of-N fleet with comments not sent is refused the same way", async () => {
    const repo = await makeRepo({ "README.md": "hello\n" });
    const project = `pending-fleet-${path.basename(repo)}`;
    await h.api.projects.add({ path: repo, name: project });
    const launched = await h.api.fleets.launch({
      kind: "best_of_n",
      project,
      agents: ["command"],
      command: "seq 0 $LOOPY_MEMBER_INDEX > out.txt",
      count: 2,
    });
    const fleet = await eventually(
      async () => {
        const f = await h.api.fleets.get({ fleetId: launched.id });
        return f.members.every((m) => m.status === "awaiting_review") ? f : undefined;
      },
      30_000,
      "both members awaiting review",
    );
    const winner = fleet.members.find((m) => m.rank === 1)!;
    await h.api.review.addComment({ runId: winner.id, path: "out.txt", line: 1, body: "why zero?" });
    await expect(h.api.fleets.approveWinner({ fleetId: launched.id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: "1 comment not sent yet: send it as a change request, or discard it",
    });
    expect((await h.api.fleets.get({ fleetId: launched.id })).members.map((m) => m.status)).toEqual([
      "awaiting_review",
      "awaiting_review",
    ]);
    const result = await h.api.fleets.approveWinner({ fleetId: launched.id, pendingComments: "discard" });
    expect(result.winner.runId).toBe(winner.id);
    expect(result.rejected).toHaveLength(1);
    const after = await h.api.fleets.get({ fleetId: launched.id });
    const merged = after.members.find((m) => m.status === "merged")!;
    expect(merged.mergedSha).toBe(result.winner.mergedSha);
    expect(merged.project.defaultBranch).toBe("main");
  });

  it("loopy review comment / comments / approve: refused with exit 1 naming the comments, unless --discard-comments", async () => {
    const { id, repo } = await runAwaitingReview({ agent: "command", command: "printf 'one\\ntwo\\n' > list.txt" });
    const added = await loopy("review", "comment", id, "--file", "list.txt", "--line", "2", "--message", "Why two?");
    expect(added.stderr).toBe("");
    expect(added.code).toBe(0);
    const commentId = added.stdout.trim();
    expect(commentId).toMatch(/^\S+$/);
    expect((await h.api.review.comments({ runId: id })).map((c) => c.id)).toEqual([commentId]);

    const bad = await loopy("review", "comment", id, "--file", "list.txt", "--line", "9", "--message", "?");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Line 9 is not in list.txt/);
    expect((await loopy("review", "comment", id, "--file", "list.txt", "--message", "?")).code).toBe(2);

    const listed = await loopy("review", "comments", id);
    expect(listed.code).toBe(0);
    const rows = listed.stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^ID\s+STATE\s+WHERE\s+COMMENT$/);
    expect(rows[1]).toMatch(new RegExp(`^${commentId}\\s+pending\\s+list.txt:2\\s+Why two\\?$`));

    const refused = await loopy("review", "approve", id);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain(`run ${id} has 1 comment not sent yet`);
    expect(refused.stderr).toContain(`${commentId}  list.txt:2  Why two?`);
    expect(refused.stderr).toContain("--discard-comments");
    expect((await h.api.runs.get({ runId: id })).status).toBe("awaiting_review");

    const approved = await loopy("review", "approve", id, "--discard-comments");
    expect(approved.stderr).toBe("");
    expect(approved.code).toBe(0);
    expect(approved.stdout).toMatch(/merged into main as [0-9a-f]{12} \(1 comment not sent, discarded\)/);
    expect(gitIn(repo, "show", "main:list.txt")).toBe("one\ntwo");
    const after = JSON.parse((await loopy("review", "comments", id, "--json")).stdout) as Array<{
      id: string;
      status: string;
    }>;
    expect(after).toEqual([expect.objectContaining({ id: commentId, status: "discarded" })]);

    expect((await loopy("--help")).stdout).toContain("loopy review comment <run-id> --file F --line N --message TEXT");
    // Nine CLI processes (each compiles its TypeScript through tsx): more than the default 30 s on a busy machine.
  }, 120_000);
});

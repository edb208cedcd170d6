import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebhookNotifier, type WebhookPayload } from "@loopy/queue/webhooks";
import type { OverviewBatch } from "@loopy/api/routers/overview";
import { createHarness, eventually, makeRepo, type Harness } from "./harness.ts";

/** The overview (home page) data, its batched live stream, and webhooks, on real Postgres, Redis and processes. */
describe("overview and notifications", () => {
  let h: Harness;
  let project: string;

  beforeAll(async () => {
    h = await createHarness();
    const repo = await makeRepo();
    project = (await h.api.projects.add({ path: repo, name: `overview-${path.basename(repo)}` })).name;
    await h.startWorker(4);
  });
  afterAll(() => h?.close());

  const statusOf = async (runId: string) => (await h.api.runs.get({ runId })).status;

  it("lists every active run with its state and latest activity line, and drops it once it is done", async () => {
    const busy = await h.api.runs.launch({
      project,
      agent: "command",
      command: "for i in $(seq 1 100); do echo step-$i; sleep 0.3; done",
      title: "busy agent",
    });
    const review = await h.api.runs.launch({
      project,
      agent: "command",
      command: "echo reviewed > review.txt; echo finished-edit",
      title: "review me",
    });
    await eventually(
      async () => ((await statusOf(review.id)) === "awaiting_review" ? true : undefined),
      20_000,
      "the second run to wait for review",
    );
    const view = await eventually(
      async () => {
        const v = await h.api.overview.get();
        const b = v.runs.find((r) => r.id === busy.id);
        return b?.status === "running" && b.activity?.startsWith("step-") ? v : undefined;
      },
      20_000,
      "the busy run to show a step line",
    );
    const rows = new Map(view.runs.map((r) => [r.id, r]));
    expect(rows.get(busy.id)).toMatchObject({ title: "busy agent", project, agent: "command", status: "running" });
    expect(rows.get(review.id)).toMatchObject({ title: "review me", status: "awaiting_review" });
    // The latest line worth showing: the status change after the command's last output.
    expect(rows.get(review.id)!.activity).toMatch(/awaiting review|diff: 1 file|finished-edit/);
    expect(view.counts.running).toBeGreaterThanOrEqual(1);
    expect(view.counts.awaiting_review).toBeGreaterThanOrEqual(1);
    expect(view.queue.jobsWaiting).toBeGreaterThanOrEqual(0);

    await h.api.review.reject({ runId: review.id, reason: "not needed" });
    const after = await h.api.overview.get();
    expect(after.runs.find((r) => r.id === review.id)).toBeUndefined();
    expect(after.throughput.lastHour).toBeGreaterThanOrEqual(1);
    await h.api.runs.cancel({ runId: busy.id });
  });

  it("pushes state changes and activity lines in batches, merged per run, at most every 500 ms", async () => {
    const abort = new AbortController();
    const batches: Array<OverviewBatch & { received: number }> = [];
    const stream = await h.apiWithSignal(abort.signal).overview.live();
    const reading = (async () => {
      for await (const batch of stream) batches.push({ ...(batch as OverviewBatch), received: Date.now() });
    })().catch(() => undefined); // ends with an abort error; the batches are checked

    // 40 lines in about 2 s: far more events than batches.
    const run = await h.api.runs.launch({
      project,
      agent: "command",
      command: "for i in $(seq 1 40); do echo line-$i; sleep 0.05; done; echo edit > out.txt",
    });
    await eventually(
      async () =>
        batches.some((b) => b.runs.some((r) => r.runId === run.id && r.status === "awaiting_review"))
          ? true
          : undefined,
      20_000,
      "the batch with the review state",
    );
    abort.abort();
    await reading;

    const mine = batches.filter((b) => b.runs.some((r) => r.runId === run.id));
    const lines = mine.flatMap((b) => b.runs.filter((r) => r.runId === run.id && r.line).map((r) => r.line));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThan(40);
    // Each batch holds one entry per run, whatever happened to it in between.
    for (const b of mine) expect(b.runs.filter((r) => r.runId === run.id)).toHaveLength(1);
    for (let i = 1; i < batches.length; i++) expect(batches[i]!.at - batches[i - 1]!.at).toBeGreaterThanOrEqual(450);
    expect(mine.flatMap((b) => b.runs.filter((r) => r.runId === run.id && r.status).map((r) => r.status))).toEqual(
      expect.arrayContaining(["running", "awaiting_review"]),
    );
  });

  it("POSTs one webhook per run needing review or fleet ending, however many workers listen, and retries a failing endpoint", async () => {
    const received: Array<{ payload: WebhookPayload; ua: string | undefined }> = [];
    let failNext = 1;
    const server = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        if (failNext > 0) {
          failNext--;
          res.writeHead(503).end();
          return;
        }
        received.push({ payload: JSON.parse(body) as WebhookPayload, ua: req.headers["user-agent"] });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const options = {
      url,
      db: h.services.db,
      redis: h.services.redis,
      subscriptions: h.services.subscriptions,
      prefix: h.services.prefix,
      publicUrl: "http://loopy.example",
      retryDelaysMs: [200, 200],
      log: () => undefined,
    };
    // Two workers, each with its notifier.
    const stops = [await startWebhookNotifier(options), await startWebhookNotifier(options)];
    try {
      const run = await h.api.runs.launch({
        project,
        agent: "command",
        command: "echo hook > hook.txt",
        title: "hooked run",
      });
      await eventually(
        async () => (received.some((r) => r.payload.run?.id === run.id) ? true : undefined),
        20_000,
        "the run's webhook",
      );

      const fleet = await h.api.fleets.launch({
        kind: "best_of_n",
        project,
        agents: ["command"],
        command: "exit 3",
        count: 2,
        concurrency: 2,
      });
      await eventually(
        async () => (received.some((r) => r.payload.fleet?.id === fleet.id) ? true : undefined),
        30_000,
        "the fleet's webhook",
      );
      await new Promise((r) => setTimeout(r, 500));

      const forRun = received.filter((r) => r.payload.run?.id === run.id);
      expect(forRun).toHaveLength(1);
      expect(forRun[0]!.ua).toBe("loopy-webhook");
      expect(forRun[0]!.payload).toMatchObject({
        event: "run.awaiting_review",
        url: `http://loopy.example/runs/${run.id}`,
        run: { id: run.id, title: "hooked run", project, status: "awaiting_review" },
      });
      expect(forRun[0]!.payload.text).toContain(`Run "hooked run" (${project}) awaits review`);
      // The fleet's members failed: each needs attention (one webhook each), then the fleet ended.
      const forFleet = received.filter((r) => r.payload.fleet?.id === fleet.id);
      expect(forFleet).toHaveLength(1);
      expect(forFleet[0]!.payload).toMatchObject({
        event: expect.stringMatching(/^fleet\.(completed|failed)$/),
        fleet: { id: fleet.id, members: 2 },
      });
      // The first delivery attempt got a 503 and was retried.
      expect(failNext).toBe(0);
    } finally {
      for (const stop of stops) await stop();
      server.close();
    }
  });
});

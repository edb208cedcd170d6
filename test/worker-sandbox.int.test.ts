import { hostname } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishWorkerSandbox } from "@loopy/queue/worker-sandbox";
import { createHarness, eventually, type Harness } from "./harness.ts";
import { startWorkerProcess, stopWorker } from "./crash-helpers.ts";

/**
 * Every worker publishes whether its agents run inside bubblewrap; `agents.sandbox` (what the web's
 * banner reads) returns the live ones, on the real Redis.
 */
describe("worker sandbox state", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("a worker started with LOOPY_SANDBOX=off says so through the API while it runs, and is gone once it stopped", async () => {
    const worker = await startWorkerProcess(h.workerEnv);
    try {
      const mine = await eventually(
        async () => (await h.api.agents.sandbox()).find((w) => w.pid === worker.pid),
        10_000,
        "the worker's sandbox state",
      );
      expect(mine).toEqual({ host: hostname(), pid: worker.pid, mode: "off", confined: false, reason: "sandbox off" });
      // Any signed-in user may see it (the banner shows on every page).
      const viewer = h.apiAs({ userId: null, name: "v", role: "viewer", via: "token" });
      expect((await viewer.agents.sandbox()).some((w) => w.pid === worker.pid)).toBe(true);
      await expect(h.apiAs(null).agents.sandbox()).rejects.toThrow();
    } finally {
      expect(await stopWorker(worker)).toBe(0);
    }
    expect((await h.api.agents.sandbox()).find((w) => w.pid === worker.pid)).toBeUndefined();
  }, 60_000);

  it("says why bubblewrap is not used, and forgets a worker that stopped refreshing (killed outright)", async () => {
    const stop = publishWorkerSandbox(
      h.services.redis,
      h.services.prefix,
      { host: "box-1", pid: 4242, mode: "auto", confined: false, reason: "bubblewrap is not installed" },
      { ttlMs: 300, refreshMs: 60_000 },
    );
    try {
      await eventually(
        async () => ((await h.api.agents.sandbox()).some((w) => w.host === "box-1") ? true : undefined),
        5_000,
        "the state",
      );
      expect((await h.api.agents.sandbox()).find((w) => w.host === "box-1")).toEqual({
        host: "box-1",
        pid: 4242,
        mode: "auto",
        confined: false,
        reason: "bubblewrap is not installed",
      });
      await new Promise((r) => setTimeout(r, 400));
      expect((await h.api.agents.sandbox()).find((w) => w.host === "box-1")).toBeUndefined();
      expect(await h.services.redis.hexists(`${h.services.prefix}:worker-sandbox`, "box-1:4242")).toBe(0);
    } finally {
      await stop();
    }
  });
});

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createServices, type Services } from "@loopy/api/services";
import { createCaller, createContext } from "@loopy/api";
import { SYSTEM_ACTOR } from "@loopy/core/access/roles";
import { listRunEvents, type StoredRunEvent } from "@loopy/core/live";
import { loadEnv } from "@loopy/config/env";
import { freePort, waitFor } from "@loopy/embedded/processes";
import { pingRedis } from "@loopy/embedded/redis";
import { eventually, makeRepo } from "./harness.ts";
import { startWorkerProcess, stopWorker, type WorkerProcess } from "./crash-helpers.ts";

/**
 * Redis restarts under a running worker and a live stream. Its own
 * redis-server (no persistence: it comes back empty, the worst case), never
 * the shared one. Web side: the in-process API (services + tRPC caller).
 */
describe("crash safety: Redis restarts (empty) mid-run", () => {
  let port: number;
  let redis: ChildProcess | undefined;
  let services: Services;
  let worker: WorkerProcess | undefined;
  let home: string;
  let project: string;

  const startRedis = async () => {
    redis = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"],
      { stdio: "ignore" },
    );
    await waitFor(() => pingRedis("127.0.0.1", port), 10_000, "redis-server did not answer");
  };
  const killRedis = async () => {
    const child = redis!;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  };

  beforeAll(async () => {
    port = await freePort();
    await startRedis();
    home = await mkdtemp(path.join(tmpdir(), "loopy-redis-home-"));
    const env = {
      DATABASE_URL: inject("databaseUrl"),
      REDIS_URL: `redis://127.0.0.1:${port}`,
      LOOPY_REDIS_PREFIX: `loopy-redis-test-${randomBytes(3).toString("hex")}`,
      LOOPY_HOME: home,
    };
    services = createServices(loadEnv(env));
    worker = await startWorkerProcess({ ...env, LOOPY_RUN_LEASE: "1500ms", LOOPY_WORKER_CONCURRENCY: "1" });
    const repo = await makeRepo();
    project = (
      await createCaller(createContext(services, SYSTEM_ACTOR)).projects.add({
        path: repo,
        name: `redis-${path.basename(repo)}`,
      })
    ).name;
  });
  afterAll(async () => {
    if (worker) await stopWorker(worker);
    await services?.close();
    if (redis && redis.exitCode === null) await killRedis();
    await rm(home, { recursive: true, force: true });
  });

  it("the worker and the API reconnect, runs finish (a queued one whose job was wiped too), and the live stream delivers every event once, in order", async () => {
    const controller = new AbortController();
    const api = createCaller(createContext(services, SYSTEM_ACTOR), { signal: controller.signal });
    const command = "for i in $(seq 1 40); do echo line-$i; sleep 0.1; done; echo done > out.txt";
    const { id: runId } = await api.runs.launch({ project, command, timeout: "2m" });
    // Concurrency 1: this one waits in Redis behind the first, and its job is lost with Redis.
    const { id: queuedId } = await api.runs.launch({ project, command: "echo second > second.txt", timeout: "2m" });

    const received: StoredRunEvent[] = [];
    let ended!: () => void;
    const streamEnded = new Promise<void>((r) => (ended = r));
    const stream = (await api.runs.events({ runId })) as AsyncIterable<[string, StoredRunEvent]>;
    void (async () => {
      for await (const [, event] of stream) {
        received.push(event);
        if (event.event.type === "status" && event.event.status !== "queued" && event.event.status !== "running")
          ended();
      }
    })();

    await eventually(
      async () => (received.filter((e) => e.event.type === "log").length >= 5 ? true : undefined),
      20_000,
      "the first lines to stream",
    );
    await killRedis();
    const linesAtKill = received.filter((e) => e.event.type === "log").length;
    await new Promise((r) => setTimeout(r, 1_500));
    await startRedis();

    await Promise.race([
      streamEnded,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`stream did not end; worker said:\n${worker!.output()}`)), 30_000),
      ),
    ]);
    controller.abort();
    const run = await services.db.run.findUniqueOrThrow({ where: { id: runId } });
    expect(run.status).toBe("awaiting_review");
    // The worker kept going while Redis was down: lines were streamed (from Postgres) while it was away, or right after.
    expect(linesAtKill).toBeLessThan(40);

    // Every stored event, once, in order: the stream is exactly the log.
    const storedEvents = await listRunEvents(services.db, runId, null, 5000);
    expect(received.map((e) => e.id)).toEqual(storedEvents.map((e) => e.id));
    expect(received.flatMap((e) => (e.event.type === "log" ? [e.event.line] : []))).toEqual(
      Array.from({ length: 40 }, (_, i) => `line-${i + 1}`),
    );

    // The queued run's job went with Redis: the worker's reconcile queued it again, and it ran.
    const second = await eventually(
      async () => {
        const r = await services.db.run.findUniqueOrThrow({ where: { id: queuedId } });
        return r.status === "queued" || r.status === "running" ? undefined : r;
      },
      20_000,
      "the queued run to run after the restart",
    );
    expect(second.status).toBe("awaiting_review");
    expect(worker!.output()).toMatch(new RegExp(`reconciled runs: .*queued again \\(${queuedId}\\)`));

    // And a run launched now goes through the reconnected queue.
    const { id: after } = await api.runs.launch({ project, command: "echo third > third.txt" });
    const third = await eventually(
      async () => {
        const r = await services.db.run.findUniqueOrThrow({ where: { id: after } });
        return r.status === "queued" || r.status === "running" ? undefined : r;
      },
      20_000,
      "a run launched after the restart to finish",
    );
    expect(third.status).toBe("awaiting_review");
  }, 90_000);
});

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createServices, type Services } from "@loopy/api/services";
import { createCaller, createContext } from "@loopy/api";
import type { ResearchStreamItem } from "@loopy/api/routers/research";
import type { OverviewBatch } from "@loopy/api/routers/overview";
import { SYSTEM_ACTOR } from "@loopy/core/access/roles";
import { listLoopPoints, listResearchEvents } from "@loopy/core/research";
import { loadEnv } from "@loopy/config/env";
import { freePort, waitFor } from "@loopy/embedded/processes";
import { pingRedis } from "@loopy/embedded/redis";
import { eventually, makeRepo } from "./harness.ts";
import { startWorkerProcess, stopWorker, type WorkerProcess } from "./crash-helpers.ts";

/** 40 step lines, 60 ms apart, then the summary: each experiment streams points for about 2.5 s. */
const STEPPY = `
const x = JSON.parse(process.env.LOOPY_PARAMS).x ?? 0.5;
let step = 0;
const timer = setInterval(() => {
  step++;
  console.log(JSON.stringify({ step, loss: 2 / step + x, lr: x * step }));
  if (step === 40) { clearInterval(timer); console.log("---"); console.log("loss: " + (2 / step + x)); }
}, 60);
`;

/**
 * The live streams across a Redis restart (its own redis-server, no
 * persistence: it comes back empty), with the worker in another process: a
 * research loop's stream (the browser's curve) gets every event and every
 * point once, in order, whether it was open before the restart or opened
 * while Redis was down; the "something changed" streams get a resync.
 * (runs.events across a restart: test/crash-redis.int.test.ts.)
 */
describe("live streams across a Redis restart", () => {
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
    home = await mkdtemp(path.join(tmpdir(), "loopy-live-redis-"));
    const env = {
      DATABASE_URL: inject("databaseUrl"),
      REDIS_URL: `redis://127.0.0.1:${port}`,
      LOOPY_REDIS_PREFIX: `loopy-live-redis-${randomBytes(3).toString("hex")}`,
      LOOPY_HOME: home,
    };
    services = createServices(loadEnv(env));
    worker = await startWorkerProcess({ ...env, LOOPY_SANDBOX: "off", LOOPY_RESEARCH_CONCURRENCY: "1" });
    const repo = await makeRepo({ "steppy.mjs": STEPPY, "loopy.params.json": '{ "x": 0.5 }\n' });
    project = (
      await createCaller(createContext(services, SYSTEM_ACTOR)).projects.add({
        path: repo,
        name: `live-redis-${path.basename(repo)}`,
      })
    ).name;
  });
  afterAll(async () => {
    if (worker) await stopWorker(worker);
    await services?.close();
    if (redis && redis.exitCode === null) await killRedis();
    await rm(home, { recursive: true, force: true });
  });

  it("research.events delivers every event and point once, in order, through the restart; list streams get a resync", async () => {
    const controller = new AbortController();
    const api = createCaller(createContext(services, SYSTEM_ACTOR), { signal: controller.signal });

    // The "something changed" streams, open across the restart.
    const notes: Record<string, unknown[]> = { runs: [], research: [], fleets: [], overview: [] };
    const collect = async (name: string, stream: Promise<unknown>) => {
      for await (const item of (await stream) as AsyncIterable<unknown>) notes[name]!.push(item);
    };
    const collecting = [
      collect("runs", api.runs.changes()),
      collect("research", api.research.changes()),
      collect("fleets", api.fleets.changes()),
      collect("overview", api.overview.live()),
    ].map((p) => p.catch(() => undefined)); // streams end with an error when aborted; what they got is checked

    const loop = await api.research.create({
      project,
      command: "node steppy.mjs",
      metric: "loss",
      direction: "min",
      budget: "30s",
      maxExperiments: 2,
      noiseRepeats: 0,
      optimizer: "random",
      space: { x: { type: "float", low: 0, high: 1 } },
    });

    type Got = { id: string; item: ResearchStreamItem };
    const ended = (item: ResearchStreamItem) =>
      item.kind === "event" &&
      item.event.event.type === "loop" &&
      ["completed", "failed", "cancelled"].includes(item.event.event.status);
    /** Reads a stream from the loop's start ("0-0": every event and every point) until the loop ends. */
    const read = (got: Got[]) => {
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      void (async () => {
        const stream = await api.research.events({ loopId: loop.id, lastEventId: "0-0" });
        for await (const [id, item] of stream as AsyncIterable<[string, ResearchStreamItem]>) {
          got.push({ id, item });
          if (ended(item)) done();
        }
      })();
      return finished;
    };
    const before: Got[] = [];
    const beforeEnded = read(before);
    const pointsIn = (got: Got[]) => got.flatMap((g) => (g.item.kind === "points" ? g.item.points : []));

    // Redis goes away while the first experiment streams points.
    await eventually(async () => (pointsIn(before).length >= 10 ? true : undefined), 60_000, "the first points");
    await killRedis();
    const pointsAtKill = pointsIn(before).length;
    // A viewer who opens the loop now: the stream must not wait for Redis, it replays from Postgres.
    const during: Got[] = [];
    const duringEnded = read(during);
    await eventually(
      async () => (pointsIn(during).length >= pointsAtKill ? true : undefined),
      5_000,
      "a stream opened while Redis is down to replay",
    );
    await new Promise((r) => setTimeout(r, 1_500));
    // Meanwhile the worker kept storing points, and the open stream kept getting them (read from Postgres).
    expect(pointsIn(before).length).toBeGreaterThan(pointsAtKill);
    const notesAtRestart = Object.fromEntries(Object.entries(notes).map(([k, v]) => [k, v.length]));
    await startRedis();

    const timeout = (what: string) =>
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`${what} did not end; worker said:\n${worker!.output()}`)), 90_000),
      );
    await Promise.race([Promise.all([beforeEnded, duringEnded]), timeout("the loop's streams")]);

    // Every stored event and point, once, in order: each stream is exactly the store.
    const storedEvents = await listResearchEvents(services.db, loop.id, null, 10_000);
    const storedPoints = await listLoopPoints(services.db, loop.id, null, 100_000);
    expect(storedPoints).toHaveLength(3 * 40 * 2);
    for (const got of [before, during]) {
      expect(got.flatMap((g) => (g.item.kind === "event" ? [g.item.event.id] : []))).toEqual(
        storedEvents.map((e) => e.id),
      );
      expect(pointsIn(got).map((p) => p.id)).toEqual(storedPoints.map((p) => p.id));
      // The tracked positions only move forward, so a reconnecting client resumes without gaps or repeats.
      const positions = got.map((g) => g.id.split("-").map(BigInt) as [bigint, bigint]);
      for (let k = 1; k < positions.length; k++) {
        expect(positions[k]![0] >= positions[k - 1]![0]).toBe(true);
        expect(positions[k]![1] >= positions[k - 1]![1]).toBe(true);
      }
    }
    const loopRow = await services.db.researchLoop.findUniqueOrThrow({ where: { id: loop.id } });
    expect(loopRow.status).toBe("completed");

    // Each "something changed" stream was told to refetch once Redis was back.
    await eventually(
      async () =>
        Object.entries(notes).every(([name, items]) =>
          items
            .slice(notesAtRestart[name])
            .some((n) =>
              name === "overview" ? (n as OverviewBatch).resync : (n as { kind?: string }).kind === "resync",
            ),
        )
          ? true
          : undefined,
      20_000,
      "a resync on every list stream",
    );
    controller.abort();
    await Promise.all(collecting);
  }, 180_000);
});

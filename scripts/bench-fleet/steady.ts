/** Steady state: a window in which every agent prints; throughput, latency, CPU and memory in it. */
import { freemem } from "node:os";
import { log, quantile, type Samples, SETTLE_MS, sleep, stats, WINDOW_MS } from "./common.ts";
import type { Bench } from "./context.ts";
import type { Sample, Taps } from "./listeners.ts";
import { cpuPercent, cpuSnapshot } from "./proc.ts";

export type Window = Awaited<ReturnType<typeof measureSteadyState>>;

export async function measureSteadyState(
  bench: Bench,
  workerPid: number,
  taps: Taps,
  sample: Sample,
  memAvailableBefore: number,
) {
  const { q, dbName, results } = bench;
  const { redisLatency, overviewLatency } = taps;
  const { sseLatency } = sample;
  await sleep(SETTLE_MS);
  const [{ max: id0 } = { max: "0" }] = await q<{ max: string }>(
    `SELECT coalesce(max(id), 0)::text AS max FROM run_events`,
  );
  const cpu0 = cpuSnapshot(workerPid, dbName);
  const t0 = Date.now();
  log(`steady state: measuring for ${WINDOW_MS / 1000} s`);
  let pgConnections = 0;
  for (let waited = 0; waited < WINDOW_MS; waited += 5_000) {
    await sleep(Math.min(5_000, WINDOW_MS - waited));
    const [c] = await q<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1`, [dbName]);
    pgConnections = Math.max(pgConnections, c?.n ?? 0);
  }
  const t1 = Date.now();
  const cpu1 = cpuSnapshot(workerPid, dbName);
  const [{ max: id1 } = { max: "0" }] = await q<{ max: string }>(
    `SELECT coalesce(max(id), 0)::text AS max FROM run_events`,
  );
  const memAvailableSteady = freemem();
  const inWindow = (xs: Samples) => xs.filter((x) => x.at >= t0 && x.at <= t1).map((x) => x.ms);
  const seconds = (t1 - t0) / 1000;
  results.latency = {
    emitToRedis: stats(inWindow(redisLatency)),
    emitToSseRunsEvents: stats(inWindow(sseLatency)),
    emitToSseOverviewLive: stats(inWindow(overviewLatency)),
  };
  // A pipeline that keeps up has the same latency at both ends of the window; a growing one is a backlog.
  const edge = (from: number, to: number) =>
    quantile(
      redisLatency.filter((x) => x.at >= from && x.at <= to).map((x) => x.ms),
      0.5,
    );
  results.backlog = { p50AtWindowStartMs: edge(t0, t0 + 5_000), p50AtWindowEndMs: edge(t1 - 5_000, t1) };
  results.steadyCpu = cpuPercent(cpu0, cpu1);
  results.postgresConnectionsOfOurDb = pgConnections;
  results.memoryUsedByFleetMb = Math.round((memAvailableBefore - memAvailableSteady) / 2 ** 20);
  const [stored] = await q<{ n: number }>(`SELECT count(*)::int AS n FROM run_events WHERE id > $1 AND id <= $2`, [
    id0,
    id1,
  ]);
  log(`window done: ${stored!.n} events stored in ${seconds.toFixed(0)} s`);
  return { id0, id1, t0, t1, seconds, stored, pgConnections };
}

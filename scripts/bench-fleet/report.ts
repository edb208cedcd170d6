/** The table printed at the end of a bench that passed. */
import { loadavg } from "node:os";
import { AGENTS, INTERVAL_S, SAMPLE, type stats } from "./common.ts";
import type { dispatchFigures } from "./launch.ts";
import type { rawBullmq } from "./raw-bullmq.ts";
import type { Throughput } from "./verify.ts";

export interface Figures {
  raw: Awaited<ReturnType<typeof rawBullmq>>;
  dispatch: Awaited<ReturnType<typeof dispatchFigures>>;
  launchMs: number;
  rampMs: number;
  seconds: number;
  throughput: Throughput;
  pgConnections: number;
  cancelMs: number;
}

export function printReport(results: Record<string, unknown>, figures: Figures): void {
  const { raw, dispatch, launchMs, rampMs, seconds, throughput, pgConnections, cancelMs } = figures;
  const f = (ms: number) => (Number.isNaN(ms) ? "    -" : `${ms.toFixed(0).padStart(5)} ms`);
  const row = (label: string, s: { n: number; p50: number; p99: number; max: number }) =>
    console.log(`  ${label.padEnd(44)} ${String(s.n).padStart(6)}  ${f(s.p50)}  ${f(s.p99)}  ${f(s.max)}`);
  const lat = results.latency as Record<string, ReturnType<typeof stats>>;
  const cpu = results.steadyCpu as Record<string, number>;
  console.log(
    `\nFleet of ${AGENTS} simulated agents (one line per ${INTERVAL_S} s each), one worker process; load before ${(results.loadBefore as number[]).map((l) => l.toFixed(2)).join(" ")}, after ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}\n`,
  );
  console.log(
    `Throughput at steady state (${seconds.toFixed(0)} s window): agents printed ${throughput.emittedPerS.toFixed(0)} lines/s; stored ${throughput.storedPerS.toFixed(0)} events/s (all types), published ${throughput.publishedPerS.toFixed(0)} lines/s; lines printed and stored within the window ${throughput.emittedAndStoredInWindowPerS.toFixed(0)}/s`,
  );
  console.log(`\nDispatch (launch → …)                              n     p50       p99       max`);
  row(`raw BullMQ: first add → processor start`, raw.launchToStart);
  row(`raw BullMQ: each add → its processor start`, raw.addToStart);
  row(`Loopy: launch call → member claimed (running)`, dispatch.launchToClaim);
  row(`Loopy: member enqueued → claimed`, dispatch.enqueuedToClaim);
  row(`Loopy: launch call → agent's first line`, dispatch.launchToFirstLine);
  console.log(
    `  (raw BullMQ adds took ${raw.addsMs} ms for ${AGENTS} jobs; Loopy's launch call ${launchMs} ms: validate, write ${AGENTS} members, enqueue)`,
  );
  console.log(`\nEvent latency, agent echo → received (steady state)      n     p50       p99       max`);
  row(`Redis pub/sub (stored, then published)`, lat.emitToRedis!);
  row(`runs.events over HTTP/SSE (${SAMPLE} streams)`, lat.emitToSseRunsEvents!);
  row(`overview.live over HTTP/SSE (500 ms batches)`, lat.emitToSseOverviewLive!);
  const backlog = results.backlog as { p50AtWindowStartMs: number; p50AtWindowEndMs: number };
  console.log(
    `  (p50 echo → Redis in the window's first 5 s ${f(backlog.p50AtWindowStartMs)}, last 5 s ${f(backlog.p50AtWindowEndMs)}: ${backlog.p50AtWindowEndMs > backlog.p50AtWindowStartMs + 1000 ? "a growing backlog, the worker does not keep up" : "steady"})`,
  );
  console.log(
    `\nWorker peak RSS ${results.workerPeakRssMb} MB; memory used by the running fleet ${results.memoryUsedByFleetMb} MB; Postgres connections of the bench database ${pgConnections}`,
  );
  console.log(
    `CPU at steady state (% of one core): worker ${cpu.worker}, agents (bash) ${cpu.agents}, Postgres (bench db) ${cpu.postgresOurDb}, Postgres (all) ${cpu.postgresAll}, Redis ${cpu.redis}, bench+API ${cpu.bench}; machine ${cpu.machineBusyPercentOfAllCores}% of all cores busy`,
  );
  console.log(
    `Cancel: every member ended ${(cancelMs / 1000).toFixed(1)} s after the call; ramp-up to all printing ${(rampMs / 1000).toFixed(1)} s`,
  );
}

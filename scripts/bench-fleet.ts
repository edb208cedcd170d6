/**
 * `npm run bench:fleet [-- <agents> <window seconds>]` (default 1000 agents, a
 * 30 s window): a fleet of simulated agents on one machine. Each agent is the
 * real `command` agent running a bash loop that prints one line a second with
 * the time it printed it (`$EPOCHREALTIME`, no fork per line), launched as one
 * best-of-N fleet through the HTTP API and executed by a real worker process
 * (apps/worker, concurrency = agents). It reports:
 *
 * - events per second stored (Postgres rows) and published (Redis) across the
 *   fleet at steady state, next to the rate the agents emitted;
 * - dispatch latency, launch → each member's claim (and → its first line),
 *   next to raw BullMQ on the same Redis in the same run (a Queue and a no-op
 *   Worker of the same concurrency, the same number of jobs);
 * - event latency from the agent's `echo` to a client over HTTP/SSE (tRPC's
 *   SSE link with the `eventsource` package, as the CLI does): `runs.events`
 *   of a sample of members and the batched `overview.live`, p50/p99;
 * - the worker's peak RSS, CPU of the worker, agents, Postgres and Redis.
 *
 * Real services: the test PostgreSQL/Redis (a fresh database and key prefix,
 * removed at the end), a real git repository. A benchmark, not a test: no
 * figure fails it, but lost events, agents that never start or a cancel that
 * does not clean up do. Figures also go to bench-results/fleet.json.
 *
 * The steps are modules in scripts/bench-fleet/; this file runs them in order.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { startApi } from "./bench-fleet/api-client.ts";
import { cancelFleet } from "./bench-fleet/cancel.ts";
import { AGENTS, BenchFailure, log, root } from "./bench-fleet/common.ts";
import { setUpBench, tearDown } from "./bench-fleet/context.ts";
import { dispatchFigures, launchFleet, rampUp } from "./bench-fleet/launch.ts";
import { followSample, listen } from "./bench-fleet/listeners.ts";
import { rawBullmq } from "./bench-fleet/raw-bullmq.ts";
import { printReport } from "./bench-fleet/report.ts";
import { measureSteadyState } from "./bench-fleet/steady.ts";
import { verifyDelivery } from "./bench-fleet/verify.ts";
import { startWorker } from "./bench-fleet/worker-process.ts";

const bench = await setUpBench();
const { services, prefix, results } = bench;
let exitCode = 0;

try {
  // 1. Raw BullMQ first, on the same Redis, while nothing else of the bench runs.
  log(`raw BullMQ: ${AGENTS} jobs, concurrency ${AGENTS}`);
  const raw = await rawBullmq(services.redisUrl, `${prefix}:raw`, AGENTS);
  results.rawBullmq = raw;

  // 2. The API over HTTP with real authentication, as apps/web serves it.
  const client = await startApi(bench);
  // 3. The worker: apps/worker as `npm start` runs it, in a process of its own.
  const worker = await startWorker(bench);
  // 4. Listeners, before the launch: every event published on Redis (the bench's own subscriber) and the overview stream.
  const taps = await listen(bench, client);
  // 5. Launch: one best-of-N fleet of AGENTS members, all at once.
  const launched = await launchFleet(bench, client, worker);
  // 6. A sample of members followed over SSE, as a run page (or `loopy logs -f`) does.
  const sample = followSample(bench, client, launched.fleet.members);
  // 7. Ramp-up: until every member runs and has printed its first line.
  const rampMs = await rampUp(bench, worker, launched);
  const dispatch = await dispatchFigures(bench, launched, worker.pid);
  // 8. Steady state: a window in which every agent prints.
  const window = await measureSteadyState(bench, worker.pid, taps, sample, launched.memAvailableBefore);
  // 9. Cancel the fleet: every agent's process group is killed, every worktree removed.
  const cancelMs = await cancelFleet(bench, client, worker, launched.fleet);
  // 10. Nothing lost: per run, stored lines are 1..k without a gap; Redis and the SSE sample saw them all.
  const throughput = await verifyDelivery(bench, worker.pid, launched.fleet, taps, sample, window);

  // The table.
  printReport(results, {
    raw,
    dispatch,
    launchMs: launched.launchMs,
    rampMs,
    seconds: window.seconds,
    throughput,
    pgConnections: window.pgConnections,
    cancelMs,
  });
} catch (error) {
  exitCode = 1;
  console.error(
    `\nbench:fleet FAILED: ${error instanceof BenchFailure ? error.message : ((error as Error).stack ?? String(error))}`,
  );
} finally {
  await tearDown(bench);
}
if (exitCode === 0) {
  const out = path.join(root, "bench-results", "fleet.json");
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify({ at: new Date().toISOString(), ...results }, null, 2)}\n`);
  console.log(`\nFigures written to ${path.relative(root, out)}`);
}
process.exit(exitCode);

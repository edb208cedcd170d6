/** The launch of one best-of-N fleet through the API, the ramp-up until every member prints, and the dispatch figures. */
import { freemem } from "node:os";
import type { BenchClient } from "./api-client.ts";
import { AGENTS, BenchFailure, check, log, RAMP_TIMEOUT_MS, SIM, sleep, stats } from "./common.ts";
import type { Bench } from "./context.ts";
import { cpuPercent, cpuSnapshot, statusKb } from "./proc.ts";
import type { BenchWorker } from "./worker-process.ts";

export type Launched = Awaited<ReturnType<typeof launchFleet>>;

/** Launch: one best-of-N fleet of AGENTS members, all at once. */
export async function launchFleet(bench: Bench, client: BenchClient, worker: BenchWorker) {
  const { repo, dbName } = bench;
  const workerPid = worker.pid;
  const project = await client.projects.add.mutate({ path: repo, name: "bench" });
  const memAvailableBefore = freemem();
  const cpuIdle = cpuSnapshot(workerPid, dbName);
  log(`launching a best-of-${AGENTS} fleet (concurrency ${AGENTS}) through the HTTP API`);
  const launchedAt = Date.now();
  const fleet = await client.fleets.launch.mutate({
    kind: "best_of_n",
    project: project.id,
    command: SIM,
    title: "simulated agent",
    agents: ["command"],
    count: AGENTS,
    concurrency: AGENTS,
    timeout: "30m",
    name: "bench fleet",
  });
  const launchMs = Date.now() - launchedAt;
  log(`launch returned in ${launchMs} ms`);
  check(fleet.members.length === AGENTS, `the fleet has ${fleet.members.length} members, not ${AGENTS}`);
  return { fleet, launchedAt, launchMs, memAvailableBefore, cpuIdle };
}

/** What the bench database's connections are doing (wait events), for the progress lines. */
export async function dbWaits(bench: Bench): Promise<string> {
  const { q, dbName } = bench;
  return (
    await q<{ what: string; n: number }>(
      `SELECT coalesce(wait_event_type || ':' || wait_event, 'cpu') || ' ' || state || ' ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 50) AS what, count(*)::int AS n
         FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND state <> 'idle' GROUP BY 1 ORDER BY 2 DESC LIMIT 3`,
      [dbName],
    )
  )
    .map((w) => `${w.n}× ${w.what}`)
    .join(" | ");
}

/** Ramp-up: until every member runs and has printed its first line. Returns the milliseconds from the launch. */
export async function rampUp(bench: Bench, worker: BenchWorker, launched: Launched): Promise<number> {
  const { q, dbName } = bench;
  const { fleet, launchedAt } = launched;
  const workerPid = worker.pid;
  const rampStarted = Date.now();
  let lastReport = 0;
  let lastCpu = cpuSnapshot(workerPid, dbName);
  for (;;) {
    const [row] = await q<{ running: number; started: number; ended: number; printing: number }>(
      `SELECT count(*) FILTER (WHERE status = 'running')::int AS running, count(started_at)::int AS started,
              count(*) FILTER (WHERE status NOT IN ('queued', 'running', 'verifying'))::int AS ended,
              count(*) FILTER (WHERE EXISTS (SELECT 1 FROM run_events e WHERE e.run_id = r.id AND e.type = 'log'))::int AS printing
       FROM runs r WHERE fleet_id = $1`,
      [fleet.id],
    );
    const r = row!;
    if (Date.now() - lastReport > 5_000) {
      const cpuNow = cpuSnapshot(workerPid, dbName);
      const c = cpuPercent(lastCpu, cpuNow) as Record<string, number>;
      lastCpu = cpuNow;
      log(
        `ramp-up: ${r.started} claimed, ${r.printing} printing, ${r.ended} ended; worker RSS ${Math.round(statusKb(workerPid, "VmRSS") / 1024)} MB, CPU % of a core: worker ${c.worker}, Postgres ${c.postgresAll}, Redis ${c.redis}, bench ${c.bench}, machine ${c.machineBusyPercentOfAllCores}% busy`,
      );
      log(`  db: ${(await dbWaits(bench)) || "idle"}`);
      lastReport = Date.now();
    }
    if (r.ended > 0) {
      const why = await q<{ status: string; status_reason: string | null; n: number }>(
        `SELECT status::text, status_reason, count(*)::int AS n FROM runs WHERE fleet_id = $1 AND status NOT IN ('queued', 'running', 'verifying') GROUP BY 1, 2`,
        [fleet.id],
      );
      throw new BenchFailure(
        `${r.ended} member(s) ended during the ramp-up: ${JSON.stringify(why)}\nworker log tail:\n${worker.log.slice(-20).join("\n")}`,
      );
    }
    if (r.printing === AGENTS) break;
    if (worker.exited !== undefined)
      throw new BenchFailure(`the worker exited (${worker.exited}):\n${worker.log.slice(-30).join("\n")}`);
    if (Date.now() - rampStarted > RAMP_TIMEOUT_MS)
      throw new BenchFailure(
        `after ${RAMP_TIMEOUT_MS / 1000} s only ${r.printing} of ${AGENTS} agents print (${r.started} claimed)`,
      );
    await sleep(1_000);
  }
  const rampMs = Date.now() - launchedAt;
  log(`all ${AGENTS} agents print, ${(rampMs / 1000).toFixed(1)} s after the launch`);
  return rampMs;
}

/** Dispatch latency of every member: launch → enqueued → claimed → its first line. */
export async function dispatchFigures(bench: Bench, launched: Launched, workerPid: number) {
  const { q, dbName, results } = bench;
  const { fleet, launchedAt, launchMs, cpuIdle } = launched;
  const members = await q<{ id: string; dispatched: Date; started: Date; first_emit: number }>(
    `SELECT r.id, r.dispatched_at AS dispatched, r.started_at AS started,
            (SELECT split_part(e.data->>'line', ' ', 4)::float8 * 1000 FROM run_events e
             WHERE e.run_id = r.id AND e.type = 'log' ORDER BY e.id LIMIT 1) AS first_emit
     FROM runs r WHERE fleet_id = $1`,
    [fleet.id],
  );
  const dispatch = {
    launchMs,
    launchToEnqueued: stats(members.map((m) => m.dispatched.getTime() - launchedAt)),
    launchToClaim: stats(members.map((m) => m.started.getTime() - launchedAt)),
    enqueuedToClaim: stats(members.map((m) => m.started.getTime() - m.dispatched.getTime())),
    claimToFirstLine: stats(members.map((m) => m.first_emit - m.started.getTime())),
    launchToFirstLine: stats(members.map((m) => m.first_emit - launchedAt)),
  };
  results.dispatch = dispatch;
  results.rampCpu = cpuPercent(cpuIdle, cpuSnapshot(workerPid, dbName));
  return dispatch;
}

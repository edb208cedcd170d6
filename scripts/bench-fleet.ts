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
 */
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { freemem, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { Redis } from "ioredis";
import { Queue, Worker } from "bullmq";
import { createTRPCClient, httpLink, httpSubscriptionLink, splitLink } from "@trpc/client";
import { createHTTPServer } from "@trpc/server/adapters/standalone";
import { EventSource } from "eventsource";
import superjson from "superjson";
import { loadEnv } from "@loopy/config/env";
import { createServices } from "@loopy/api/services";
import { appRouter, createContext, type AppRouter } from "@loopy/api";
import { actorOfRequest } from "@loopy/api/http-auth";
import { createApiToken, createUser } from "@loopy/core/auth/accounts";
import { setUpTestServices } from "../test/services.ts";

const AGENTS = Number(process.argv[2] ?? 1000);
const WINDOW_MS = Number(process.argv[3] ?? 30) * 1000;
/** Members whose `runs.events` stream a client follows (each one SSE connection). */
const SAMPLE = Math.min(50, AGENTS);
const INTERVAL_S = 1;
/** Lines per agent: more than the bench lasts; the fleet is cancelled at the end. */
const LINES = 3600;
const RAMP_TIMEOUT_MS = 300_000;
const CANCEL_TIMEOUT_MS = 300_000;
const SETTLE_MS = 5_000;
if (!Number.isInteger(AGENTS) || AGENTS < 1 || AGENTS > 1000)
  throw new Error(`agents must be 1..1000 (a fleet's limit), got ${process.argv[2]}`);

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// One persistent process per agent: bash. `read -t` on a FIFO it holds open itself is its sleep (no fork a line).
const SIM = [
  `f="\${TMPDIR:-/tmp}/loopy-sim-$$"; mkfifo "$f"; exec 3<>"$f"; rm -f "$f"`,
  `for ((i = 1; i <= ${LINES}; i++)); do echo "sim $LOOPY_MEMBER_INDEX $i $EPOCHREALTIME"; read -t ${INTERVAL_S} -u 3 || :; done`,
].join("; ");
/** A sim line: `sim <member> <i> <emit epoch seconds>`. */
const SIM_LINE = /^sim (\d+) (\d+) (\d+\.\d+)$/;
const emittedAt = (line: string): { member: number; i: number; at: number } | null => {
  const m = SIM_LINE.exec(line);
  return m ? { member: Number(m[1]), i: Number(m[2]), at: Number(m[3]) * 1000 } : null;
};

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
};
const stats = (xs: number[]) => ({
  n: xs.length,
  p50: Math.round(quantile(xs, 0.5)),
  p99: Math.round(quantile(xs, 0.99)),
  max: xs.length ? Math.round(Math.max(...xs)) : NaN,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
class BenchFailure extends Error {}
const check = (ok: boolean, message: string) => {
  if (!ok) throw new BenchFailure(message);
};

// ---- /proc sampling: CPU (ticks) and memory of the processes involved -------------------------

const TICK_MS = 10; // CLK_TCK = 100 on Linux
interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  ticks: number;
}
function processes(): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      out.push({ pid: Number(entry), ppid: Number(fields[1]), comm, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}
function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}
function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
function machineTicks(): { busy: number; total: number } {
  const cpu = (readFileSync("/proc/stat", "utf8").split("\n")[0] as string).trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  return { busy: total - idle, total };
}
/** CPU ticks per group of processes: the worker, its agents, our database's Postgres backends, all Postgres, Redis, this process. */
function cpuSnapshot(workerPid: number, dbName: string) {
  const groups = { worker: 0, agents: 0, postgresOurDb: 0, postgresAll: 0, redis: 0, bench: 0 };
  for (const p of processes()) {
    if (p.pid === workerPid) groups.worker += p.ticks;
    else if (p.ppid === workerPid && p.comm === "bash") groups.agents += p.ticks;
    else if (p.pid === process.pid) groups.bench += p.ticks;
    else if (p.comm === "postgres") {
      groups.postgresAll += p.ticks;
      if (cmdline(p.pid).includes(` ${dbName} `)) groups.postgresOurDb += p.ticks;
    } else if (p.comm === "redis-server") groups.redis += p.ticks;
  }
  return { at: Date.now(), groups, machine: machineTicks() };
}
type CpuSnapshot = ReturnType<typeof cpuSnapshot>;
/** Percent of one core per group between two snapshots (postgresOurDb: backends that lived through both). */
function cpuPercent(a: CpuSnapshot, b: CpuSnapshot) {
  const ms = b.at - a.at;
  const pct = Object.fromEntries(
    Object.entries(b.groups).map(([k, v]) => [
      k,
      Math.round((((v - a.groups[k as keyof typeof a.groups]) * TICK_MS) / ms) * 100),
    ]),
  );
  const machineBusy = Math.round(((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)) * 100);
  return { ...pct, machineBusyPercentOfAllCores: machineBusy };
}

// ---- the raw BullMQ reference --------------------------------------------------------------------

/** `jobs` jobs added one by one (as the dispatcher does) to a plain Queue; a no-op Worker of the same concurrency. */
async function rawBullmq(redisUrl: string, prefix: string, jobs: number) {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const producer = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const name = "raw-bench";
  const queue = new Queue(name, { connection, prefix });
  const added: number[] = [];
  const started: number[] = [];
  let all!: () => void;
  const done = new Promise<void>((r) => (all = r));
  let count = 0;
  const worker = new Worker(
    name,
    async (job) => {
      started[job.data.i as number] = Date.now();
      if (++count === jobs) all();
    },
    { connection: producer.duplicate({ maxRetriesPerRequest: null }), prefix, concurrency: jobs },
  );
  await worker.waitUntilReady();
  await sleep(500); // the worker is idle and waiting, as Loopy's is when a fleet is launched
  const first = Date.now();
  for (let i = 0; i < jobs; i++) {
    added[i] = Date.now();
    await queue.add("job", { i }, { jobId: `raw-${i}`, removeOnComplete: true });
  }
  const addsMs = Date.now() - first;
  await Promise.race([
    done,
    sleep(60_000).then(() =>
      Promise.reject(new BenchFailure(`raw BullMQ: only ${count} of ${jobs} jobs started within 60 s`)),
    ),
  ]);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  producer.disconnect();
  return {
    jobs,
    addsMs,
    launchToStart: stats(started.map((s) => s - first)),
    addToStart: stats(started.map((s, i) => s - (added[i] as number))),
  };
}

// ---- the bench ------------------------------------------------------------------------------------

const services = await setUpTestServices();
log(`services: ${services.description}`);
log(
  `load before: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
const home = await mkdtemp(path.join(tmpdir(), "loopy-bench-fleet-home-"));
const repo = await mkdtemp(path.join(tmpdir(), "loopy-bench-fleet-repo-"));
const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, stdio: "pipe" }).toString().trim();
git("init", "-q", "-b", "main");
await writeFile(path.join(repo, "README.md"), "a small repository for the fleet bench\n");
git("add", "-A");
git("-c", "user.name=Bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", "initial");

const databaseUrl = await services.newDatabase();
const dbName = new URL(databaseUrl).pathname.slice(1);
const prefix = `${services.prefix}:bench`;
const env = loadEnv({
  DATABASE_URL: databaseUrl,
  REDIS_URL: services.redisUrl,
  LOOPY_REDIS_PREFIX: prefix,
  LOOPY_HOME: home,
  LOOPY_MAX_RUNNING: String(AGENTS),
});
const api = createServices(env);
const sql = new pg.Client({ connectionString: databaseUrl });
await sql.connect();
const q = async <T extends Record<string, unknown>>(text: string, values: unknown[] = []) =>
  (await sql.query<T>(text, values)).rows;

const closers: Array<() => unknown> = [];
let workerPid = 0;
let exitCode = 0;
const results: Record<string, unknown> = {
  agents: AGENTS,
  windowMs: WINDOW_MS,
  intervalS: INTERVAL_S,
  sample: SAMPLE,
  loadBefore: loadavg(),
};

try {
  // 1. Raw BullMQ first, on the same Redis, while nothing else of the bench runs.
  log(`raw BullMQ: ${AGENTS} jobs, concurrency ${AGENTS}`);
  const raw = await rawBullmq(services.redisUrl, `${prefix}:raw`, AGENTS);
  results.rawBullmq = raw;

  // 2. The API over HTTP with real authentication, as apps/web serves it.
  const user = await createUser(api.db, { name: `bench-${randomBytes(3).toString("hex")}`, role: "admin" });
  const { token } = await createApiToken(api.db, { user: user.name, name: "bench", role: "admin" });
  const server = createHTTPServer({
    router: appRouter,
    basePath: "/api/trpc/",
    createContext: async ({ req }) => {
      const headers = new Headers();
      for (const [key, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(key, value);
      const { actor, csrfValid } = await actorOfRequest(api.db, { headers });
      return createContext(api, actor, csrfValid);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  closers.push(() => server.closeAllConnections());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/trpc`;
  // The CLI's client (packages/cli/src/client.ts): HTTP for queries, SSE through the eventsource package.
  const auth = { authorization: `Bearer ${token}` };
  const client = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({
          url,
          transformer: superjson,
          EventSource,
          eventSourceOptions: () => ({
            fetch: (input: string | URL, init?: RequestInit) =>
              fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...auth } }),
          }),
        }),
        false: httpLink({ url, transformer: superjson, headers: auth }),
      }),
    ],
  });

  // 3. The worker: apps/worker as `npm start` runs it, in a process of its own.
  const worker = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_WORKER_NODE_FLAGS?.split(" ").filter(Boolean) ?? []),
      "--import",
      "tsx",
      "apps/worker/src/main.ts",
    ],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TMPDIR: process.env.TMPDIR,
        DATABASE_URL: databaseUrl,
        REDIS_URL: services.redisUrl,
        LOOPY_REDIS_PREFIX: prefix,
        LOOPY_HOME: home,
        LOOPY_WORKER_CONCURRENCY: String(AGENTS),
        LOOPY_MAX_RUNNING: String(AGENTS),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  workerPid = worker.pid ?? 0;
  const workerLog: string[] = [];
  let workerExited: number | null | undefined;
  worker.on("exit", (code) => (workerExited = code));
  const ready = new Promise<void>((resolve, reject) => {
    worker.on("exit", (code) =>
      reject(new BenchFailure(`the worker exited (${code}) before it was ready:\n${workerLog.join("\n")}`)),
    );
    for (const stream of [worker.stdout, worker.stderr]) {
      let rest = "";
      stream.on("data", (chunk: Buffer) => {
        const lines = (rest + chunk.toString()).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          workerLog.push(line);
          if (line.includes(" ready: ")) resolve();
        }
      });
    }
  });
  closers.push(async () => {
    if (workerExited !== undefined) return;
    worker.kill("SIGTERM");
    await Promise.race([new Promise((r) => worker.once("exit", r)), sleep(60_000).then(() => worker.kill("SIGKILL"))]);
  });
  await ready;
  log(`worker ready (pid ${workerPid}, concurrency ${AGENTS}, LOOPY_MAX_RUNNING ${AGENTS})`);
  let peakRssKb = 0;
  const rssTimer = setInterval(() => (peakRssKb = Math.max(peakRssKb, statusKb(workerPid, "VmRSS"))), 1000);
  closers.push(() => clearInterval(rssTimer));

  // 4. Listeners, before the launch: every event published on Redis (the bench's own subscriber) and the overview stream.
  const publishedPerRun = new Map<string, number>();
  const redisLatency: Array<{ at: number; ms: number }> = [];
  const tap = new Redis(services.redisUrl, { maxRetriesPerRequest: null });
  closers.push(() => tap.disconnect());
  tap.on("pmessage", (_pattern: string, channel: string, message: string) => {
    const now = Date.now();
    const runId = channel.slice(channel.lastIndexOf(":") + 1);
    for (const e of JSON.parse(message) as Array<{ event: { type: string; line?: string } }>) {
      const sim = e.event.type === "log" ? emittedAt(e.event.line ?? "") : null;
      if (!sim) continue;
      publishedPerRun.set(runId, (publishedPerRun.get(runId) ?? 0) + 1);
      redisLatency.push({ at: now, ms: now - sim.at });
    }
  });
  await tap.psubscribe(`${prefix}:run-events:*`);

  const overviewLatency: Array<{ at: number; ms: number }> = [];
  const overviewRuns = new Set<string>();
  let overviewBatches = 0;
  let overviewError: unknown;
  const overviewSub = client.overview.live.subscribe(undefined, {
    onData: (batch) => {
      const now = Date.now();
      overviewBatches++;
      for (const r of batch.runs) {
        const sim = r.line ? emittedAt(r.line) : null;
        if (!sim) continue;
        overviewRuns.add(r.runId);
        overviewLatency.push({ at: now, ms: now - sim.at });
      }
    },
    onError: (error) => (overviewError = error),
  });
  closers.push(() => overviewSub.unsubscribe());
  await sleep(500); // the SSE connection and its Redis subscription are up

  // 5. Launch: one best-of-N fleet of AGENTS members, all at once.
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

  // 6. A sample of members followed over SSE, as a run page (or `loopy logs -f`) does.
  const sampleIds = fleet.members
    .filter((_, i) => i % Math.floor(AGENTS / SAMPLE) === 0)
    .slice(0, SAMPLE)
    .map((m) => m.id);
  const sseLatency: Array<{ at: number; ms: number }> = [];
  const sseLines = new Map<string, number[]>();
  const sseEnded = new Set<string>();
  const sseErrors: unknown[] = [];
  for (const runId of sampleIds) {
    sseLines.set(runId, []);
    const sub = client.runs.events.subscribe(
      { runId, lastEventId: null },
      {
        onData: ({ data }) => {
          const now = Date.now();
          const event = data.event;
          if (event.type === "log") {
            const sim = emittedAt(event.line);
            if (sim) {
              sseLines.get(runId)?.push(sim.i);
              sseLatency.push({ at: now, ms: now - sim.at });
            }
          }
          if (event.type === "status" && !["queued", "running", "verifying"].includes(event.status))
            sseEnded.add(runId);
        },
        onError: (error) => sseErrors.push(error),
      },
    );
    closers.push(() => sub.unsubscribe());
  }

  // 7. Ramp-up: until every member runs and has printed its first line.
  /** What the bench database's connections are doing (wait events), for the progress lines. */
  const dbWaits = async () =>
    (
      await q<{ what: string; n: number }>(
        `SELECT coalesce(wait_event_type || ':' || wait_event, 'cpu') || ' ' || state || ' ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 50) AS what, count(*)::int AS n
         FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND state <> 'idle' GROUP BY 1 ORDER BY 2 DESC LIMIT 3`,
        [dbName],
      )
    )
      .map((w) => `${w.n}× ${w.what}`)
      .join(" | ");
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
      log(`  db: ${(await dbWaits()) || "idle"}`);
      lastReport = Date.now();
    }
    if (r.ended > 0) {
      const why = await q<{ status: string; status_reason: string | null; n: number }>(
        `SELECT status::text, status_reason, count(*)::int AS n FROM runs WHERE fleet_id = $1 AND status NOT IN ('queued', 'running', 'verifying') GROUP BY 1, 2`,
        [fleet.id],
      );
      throw new BenchFailure(
        `${r.ended} member(s) ended during the ramp-up: ${JSON.stringify(why)}\nworker log tail:\n${workerLog.slice(-20).join("\n")}`,
      );
    }
    if (r.printing === AGENTS) break;
    if (workerExited !== undefined)
      throw new BenchFailure(`the worker exited (${workerExited}):\n${workerLog.slice(-30).join("\n")}`);
    if (Date.now() - rampStarted > RAMP_TIMEOUT_MS)
      throw new BenchFailure(
        `after ${RAMP_TIMEOUT_MS / 1000} s only ${r.printing} of ${AGENTS} agents print (${r.started} claimed)`,
      );
    await sleep(1_000);
  }
  const rampMs = Date.now() - launchedAt;
  log(`all ${AGENTS} agents print, ${(rampMs / 1000).toFixed(1)} s after the launch`);

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

  // 8. Steady state: a window in which every agent prints.
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
  const inWindow = (xs: Array<{ at: number; ms: number }>) =>
    xs.filter((x) => x.at >= t0 && x.at <= t1).map((x) => x.ms);
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

  // 9. Cancel the fleet: every agent's process group is killed, every worktree removed.
  const cancelAt = Date.now();
  await client.fleets.cancel.mutate({ fleetId: fleet.id });
  const cancelReturnedMs = Date.now() - cancelAt;
  let lastCancelReport = Date.now();
  for (;;) {
    const [row] = await q<{ open: number }>(
      `SELECT count(*) FILTER (WHERE status IN ('queued', 'running', 'verifying'))::int AS open FROM runs WHERE fleet_id = $1`,
      [fleet.id],
    );
    if (row!.open === 0) break;
    if (Date.now() - cancelAt > CANCEL_TIMEOUT_MS) {
      const stuck = await q<{ id: string; status: string; events: string }>(
        `SELECT r.id, r.status::text AS status, (SELECT string_agg(x.type || ' ' || left(x.data::text, 120), ' / ' ORDER BY x.id) FROM (SELECT * FROM run_events e WHERE e.run_id = r.id ORDER BY e.id DESC LIMIT 4) x) AS events
         FROM runs r WHERE fleet_id = $1 AND status IN ('queued', 'running', 'verifying') LIMIT 3`,
        [fleet.id],
      );
      throw new BenchFailure(
        `${CANCEL_TIMEOUT_MS / 1000} s after the cancel ${row!.open} members are still open: ${JSON.stringify(stuck)}\nworker log tail:\n${workerLog.slice(-20).join("\n")}`,
      );
    }
    if (Date.now() - lastCancelReport > 10_000) {
      log(`cancelling: ${row!.open} members still open; db: ${(await dbWaits()) || "idle"}`);
      lastCancelReport = Date.now();
    }
    await sleep(500);
  }
  const cancelMs = Date.now() - cancelAt;
  peakRssKb = Math.max(peakRssKb, statusKb(workerPid, "VmHWM"));
  log(
    `cancelled: every member ended ${(cancelMs / 1000).toFixed(1)} s after the cancel (the call returned in ${cancelReturnedMs} ms)`,
  );
  results.cancel = { cancelReturnedMs, allMembersEndedMs: cancelMs };
  results.workerPeakRssMb = Math.round(peakRssKb / 1024);

  // 10. Nothing lost: per run, stored lines are 1..k without a gap; Redis and the SSE sample saw them all.
  const perRun = await q<{ run_id: string; status: string; lines: number; last: number }>(
    `SELECT r.id AS run_id, r.status::text AS status, count(e.id)::int AS lines,
            coalesce(max(split_part(e.data->>'line', ' ', 3)::int), 0) AS last
     FROM runs r LEFT JOIN run_events e ON e.run_id = r.id AND e.type = 'log' AND e.data->>'line' LIKE 'sim %'
     WHERE r.fleet_id = $1 GROUP BY r.id, r.status`,
    [fleet.id],
  );
  const notCancelled = perRun.filter((r) => r.status !== "cancelled");
  check(
    notCancelled.length === 0,
    `${notCancelled.length} member(s) did not end cancelled: ${JSON.stringify(notCancelled.slice(0, 5))}`,
  );
  const gaps = perRun.filter((r) => r.lines !== r.last);
  check(
    gaps.length === 0,
    `${gaps.length} member(s) lost lines between the agent and Postgres: ${JSON.stringify(gaps.slice(0, 5))}`,
  );
  const storedLines = perRun.reduce((n, r) => n + r.lines, 0);
  await sleep(1_000); // the last publishes in flight
  const unpublished = perRun.filter((r) => (publishedPerRun.get(r.run_id) ?? 0) !== r.lines);
  check(
    unpublished.length === 0,
    `${unpublished.length} member(s) published a different number of lines than were stored: ${JSON.stringify(unpublished.slice(0, 5).map((r) => ({ ...r, published: publishedPerRun.get(r.run_id) ?? 0 })))}`,
  );
  const sseDeadline = Date.now() + 30_000;
  while (sseEnded.size < sampleIds.length && Date.now() < sseDeadline) await sleep(250);
  check(sseErrors.length === 0, `runs.events streams failed: ${String(sseErrors[0])}`);
  check(
    sseEnded.size === sampleIds.length,
    `${sampleIds.length - sseEnded.size} of ${sampleIds.length} runs.events streams never delivered the final status`,
  );
  const byRun = new Map(perRun.map((r) => [r.run_id, r]));
  for (const runId of sampleIds) {
    const got = sseLines.get(runId) ?? [];
    const want = byRun.get(runId)?.lines ?? -1;
    check(
      got.length === want && got.every((i, k) => i === k + 1),
      `runs.events of ${runId} delivered ${got.length} lines (in order: ${got.every((i, k) => i === k + 1)}), ${want} were stored`,
    );
  }
  check(overviewError === undefined, `overview.live failed: ${String(overviewError)}`);
  check(overviewRuns.size === AGENTS, `overview.live showed a line of ${overviewRuns.size} of ${AGENTS} agents`);
  // ".index" holds Loopy's own indexes of the workspaces, not a workspace.
  const worktreesLeft = (await readdir(path.join(home, "worktrees")).catch(() => [] as string[])).filter(
    (n) => !n.startsWith("."),
  ).length;
  const gitWorktrees =
    git("worktree", "list", "--porcelain")
      .split("\n")
      .filter((l) => l.startsWith("worktree ")).length - 1;
  const simsLeft = processes().filter((p) => p.ppid === workerPid && p.comm === "bash").length;
  check(
    worktreesLeft === 0 && gitWorktrees === 0,
    `after the cancel ${worktreesLeft} worktree folder(s) and ${gitWorktrees} git worktree(s) are left`,
  );
  check(simsLeft === 0, `after the cancel ${simsLeft} agent process(es) are still alive`);
  // Every line is stored by now: how many the agents printed in the window, and how many of those were stored within it.
  const [win] = await q<{ stored: number; emitted: number; stored_in_window: number }>(
    `SELECT count(*) FILTER (WHERE id > $1 AND id <= $2)::int AS stored,
            count(*) FILTER (WHERE type = 'log' AND data->>'line' LIKE 'sim %' AND split_part(data->>'line', ' ', 4)::float8 * 1000 BETWEEN $3 AND $4)::int AS emitted,
            count(*) FILTER (WHERE id > $1 AND id <= $2 AND type = 'log' AND data->>'line' LIKE 'sim %' AND split_part(data->>'line', ' ', 4)::float8 * 1000 BETWEEN $3 AND $4)::int AS stored_in_window
     FROM run_events WHERE id > $1 - 200000`,
    [id0, id1, t0, t1],
  );
  const throughput = {
    windowS: seconds,
    emittedPerS: win!.emitted / seconds,
    storedPerS: stored!.n / seconds,
    emittedAndStoredInWindowPerS: win!.stored_in_window / seconds,
    publishedPerS: redisLatency.filter((x) => x.at >= t0 && x.at <= t1).length / seconds,
  };
  results.throughput = throughput;
  results.delivery = {
    storedLines,
    sseStreams: sampleIds.length,
    sseLines: [...sseLines.values()].reduce((n, l) => n + l.length, 0),
    overviewBatches,
    overviewRunsSeen: overviewRuns.size,
  };
  results.loadAfter = loadavg();

  // The table.
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
} catch (error) {
  exitCode = 1;
  console.error(
    `\nbench:fleet FAILED: ${error instanceof BenchFailure ? error.message : ((error as Error).stack ?? String(error))}`,
  );
} finally {
  for (const close of closers.reverse())
    await Promise.resolve(close()).catch((e: Error) => console.error(`cleanup: ${e.message}`));
  // Cleanup after the results are written: a failure here changes nothing of them.
  await sql.end().catch(() => undefined);
  await api.close().catch(() => undefined);
  await services.cleanup();
  await rm(home, { recursive: true, force: true }).catch(() => undefined);
  await rm(repo, { recursive: true, force: true }).catch(() => undefined);
}
if (exitCode === 0) {
  const out = path.join(root, "bench-results", "fleet.json");
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify({ at: new Date().toISOString(), ...results }, null, 2)}\n`);
  console.log(`\nFigures written to ${path.relative(root, out)}`);
}
process.exit(exitCode);

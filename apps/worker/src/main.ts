import { inheritedEnv, loadEnv, required } from "@loopy/config/env";
import { createDb } from "@loopy/db/client";
import { createRedis } from "@loopy/queue/redis";
import { createRunNotifier, Subscriptions } from "@loopy/queue/event-bus";
import { startWebhookNotifier } from "@loopy/queue/webhooks";
import { startRunWorker } from "@loopy/queue/run-worker";
import { createResearchNotifier } from "@loopy/queue/research-bus";
import { startResearchWorker } from "@loopy/queue/research-worker";
import { parseDuration } from "@loopy/config/duration";
import { RESERVED_SECRET } from "@loopy/core/projects";
import { describeSandbox, sandboxStatus } from "@loopy/agents/sandbox";
import { publishWorkerSandbox } from "@loopy/queue/worker-sandbox";
import { hostname } from "node:os";
import { ensureLoopyHome } from "@loopy/config/home";
import { ensureMasterKey } from "@loopy/core/secrets";

/**
 * The worker process: takes runs and research loops off their queues and executes them. It holds no
 * state of its own; Postgres has the runs, Redis the queue. Scale it by
 * starting more of them.
 */
const env = loadEnv();
const redisUrl = required(env, "REDIS_URL");
const db = createDb(required(env, "DATABASE_URL"));
const publisher = createRedis(redisUrl, "worker");
const log = (message: string) => console.log(`${new Date().toISOString()} ${message}`);
// Probed once: with LOOPY_SANDBOX=on and no working bubblewrap the worker refuses to start.
log(await describeSandbox(env.LOOPY_SANDBOX));
// Started on its own (Docker), the worker is the first to use LOOPY_HOME: 0700, and the master key made now.
await ensureLoopyHome(env.LOOPY_HOME, log);
const masterKey = await ensureMasterKey({ value: env.LOOPY_MASTER_KEY, loopyHome: env.LOOPY_HOME });
if (masterKey.created)
  log(
    `created the master key ${masterKey.file} (0600); back it up with the database, stored secrets cannot be read without it`,
  );

// Whether agents run confined here, for the web's banner (refreshed while the worker lives, removed when it stops).
const sandbox = env.LOOPY_SANDBOX === "off" ? { ok: false as const, reason: "sandbox off" } : await sandboxStatus();
const stopSandboxReport = publishWorkerSandbox(publisher, env.LOOPY_REDIS_PREFIX, {
  host: hostname(),
  pid: process.pid,
  mode: env.LOOPY_SANDBOX,
  confined: sandbox.ok,
  reason: sandbox.ok ? null : sandbox.reason,
});

// Profiles may name API keys that are not stored secrets: then the worker's own environment variable of that name.
const secrets = (names: string[]) =>
  Object.fromEntries(
    Object.entries(inheritedEnv(names.filter((n) => !RESERVED_SECRET.test(n)))).filter(([, value]) => value !== ""),
  );

// Sandboxed processes reach only these hosts (and their model endpoint); Loopy's own services never, whatever is allowed.
const egress = {
  allowHosts: env.LOOPY_EGRESS_ALLOW.split(",")
    .map((h) => h.trim())
    .filter(Boolean),
  denyHosts: loopyServices([env.DATABASE_URL, redisUrl], env.PORT),
};

const runNotifier = createRunNotifier(publisher, env.LOOPY_REDIS_PREFIX);
const worker = await startRunWorker({
  db,
  notifier: runNotifier,
  redisUrl,
  prefix: env.LOOPY_REDIS_PREFIX,
  concurrency: env.LOOPY_WORKER_CONCURRENCY,
  loopyHome: env.LOOPY_HOME,
  agentBinDirs: env.agentBinDirs,
  secrets,
  masterKey: env.LOOPY_MASTER_KEY,
  sandbox: env.LOOPY_SANDBOX,
  egress,
  log,
  maxRunning: env.LOOPY_MAX_RUNNING,
  leaseMs: parseDuration(env.LOOPY_RUN_LEASE),
});
const research = await startResearchWorker({
  db,
  notifier: createResearchNotifier(publisher, env.LOOPY_REDIS_PREFIX),
  redisUrl,
  prefix: env.LOOPY_REDIS_PREFIX,
  concurrency: env.LOOPY_RESEARCH_CONCURRENCY,
  loopyHome: env.LOOPY_HOME,
  agentBinDirs: env.agentBinDirs,
  secrets,
  masterKey: env.LOOPY_MASTER_KEY,
  sandbox: env.LOOPY_SANDBOX,
  egress,
  leaseMs: parseDuration(env.LOOPY_RESEARCH_LEASE),
  log,
  fleetChanged: (fleetId, status) => runNotifier.fleetChanged?.(fleetId, status) ?? Promise.resolve(),
});
// LOOPY_WEBHOOK_URL: a POST when a run awaits review or needs attention, or a fleet ends (one per change across workers).
const webhooks = env.LOOPY_WEBHOOK_URL
  ? await startWebhookNotifier({
      url: env.LOOPY_WEBHOOK_URL,
      db,
      redis: publisher,
      subscriptions: new Subscriptions(createRedis(redisUrl, "subscriber")),
      prefix: env.LOOPY_REDIS_PREFIX,
      publicUrl: env.LOOPY_URL,
      log,
    })
  : null;
log(
  `ready: concurrency ${env.LOOPY_WORKER_CONCURRENCY} runs, ${env.LOOPY_RESEARCH_CONCURRENCY} research loops; queue prefix "${env.LOOPY_REDIS_PREFIX}"`,
);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  // No new jobs; runs in progress get LOOPY_SHUTDOWN_GRACE to finish, then are stopped (process groups killed)
  // and handed over: their jobs go back to the queue and the next worker re-runs the interrupted turn.
  // Research loops are handed over at once: their experiment is re-queued and the next worker resumes them.
  const graceMs = parseDuration(env.LOOPY_SHUTDOWN_GRACE);
  log(
    `${signal}: stopping; ${worker.inProgress()} run(s) in progress get ${env.LOOPY_SHUTDOWN_GRACE} to finish, handing over ${research.inProgress()} research loop(s)`,
  );
  await Promise.all([worker.close({ graceMs }), research.close(), webhooks?.(), stopSandboxReport()]);
  publisher.disconnect();
  await db.$disconnect();
  process.exit(0);
}
process.on("unhandledRejection", (error) => log(`unhandled rejection: ${(error as Error)?.stack ?? String(error)}`));
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

/** host:port of Loopy's database and Redis (from their URLs) and web port, under every name of this machine. */
function loopyServices(urls: Array<string | undefined>, webPort: number): string[] {
  const targets = new Set<string>();
  const local = ["127.0.0.1", "localhost", "[::1]", "0.0.0.0"];
  for (const url of urls) {
    if (!url) continue;
    try {
      const u = new URL(url);
      const port = u.port || (u.protocol.startsWith("redis") ? "6379" : "5432");
      targets.add(`${u.hostname}:${port}`);
      if (local.includes(u.hostname)) for (const name of local) targets.add(`${name}:${port}`);
    } catch {
      // not a URL: loadEnv already refused it
    }
  }
  for (const name of local) targets.add(`${name}:${webPort}`);
  return [...targets];
}

import { loadEnv, required } from "@loopy/config/env";
import { createDb } from "@loopy/db/client";
import { createRedis } from "@loopy/queue/redis";
import { createRunNotifier } from "@loopy/queue/event-bus";
import { startRunWorker } from "@loopy/queue/run-worker";
import { RESERVED_SECRET } from "@loopy/core/profiles";

/**
 * The worker process: takes runs off the queue and executes them. It holds no
 * state of its own; Postgres has the runs, Redis the queue. Scale it by
 * starting more of them.
 */
const env = loadEnv();
const redisUrl = required(env, "REDIS_URL");
const db = createDb(required(env, "DATABASE_URL"));
const publisher = createRedis(redisUrl, "worker");
const log = (message: string) => console.log(`${new Date().toISOString()} ${message}`);

const worker = await startRunWorker({
  db,
  notifier: createRunNotifier(publisher, env.LOOPY_REDIS_PREFIX),
  redisUrl,
  prefix: env.LOOPY_REDIS_PREFIX,
  concurrency: env.LOOPY_WORKER_CONCURRENCY,
  loopyHome: env.LOOPY_HOME,
  agentBinDirs: env.agentBinDirs,
  // Profiles name secrets (API keys) by environment variable; their values come from this process only.
  secrets: (names) => Object.fromEntries(names.filter((n) => !RESERVED_SECRET.test(n)).flatMap((n) => (process.env[n] ? [[n, process.env[n] as string]] : []))),
  log,
});
log(`ready: concurrency ${env.LOOPY_WORKER_CONCURRENCY}, queue prefix "${env.LOOPY_REDIS_PREFIX}"`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  // Runs in progress are cancelled (process groups killed) and recorded as such,
  // rather than left "running" with nobody behind them.
  log(`${signal}: stopping; cancelling ${worker.inProgress()} run(s) in progress`);
  await worker.close({ cancelRunning: true });
  publisher.disconnect();
  await db.$disconnect();
  process.exit(0);
}
process.on("unhandledRejection", (error) => log(`unhandled rejection: ${(error as Error)?.stack ?? String(error)}`));
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

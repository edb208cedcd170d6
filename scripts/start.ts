/**
 * `npm start`: Loopy on its embedded default, no Docker, no hand-started service.
 *
 *   database  DATABASE_URL, else an embedded PGlite server with files in $LOOPY_HOME/pgdata
 *   redis     REDIS_URL, else 127.0.0.1:6379, else `redis-server` from PATH as a child
 *   web       Next.js (built first if needed) behind apps/web/src/server.ts, worker: its own process
 *
 * Prints the URL once /api/health answers 200. Ctrl-C stops everything it started.
 * LOOPY_DEV=1 (`npm run dev`) runs `next dev` instead of building.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadEnv } from "@loopy/config/env";
import { ensureLoopyHome } from "@loopy/config/home";
import { ensureMasterKey } from "@loopy/core/secrets";
import { ensureDatabase, type DatabaseChoice } from "@loopy/embedded/database";
import { ensureRedis, type RedisChoice } from "@loopy/embedded/redis";
import { startChild, stopChild, waitFor } from "@loopy/embedded/processes";
import { supervise, type Supervised } from "@loopy/embedded/supervisor";
import { parseDuration } from "@loopy/config/duration";
import { createDb } from "@loopy/db/client";
import { seedDemoProject } from "@loopy/core/research";
import { bootstrapAuth, createSignInCode, isLoopback, type AuthBootstrap } from "@loopy/core/access";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name: string) => path.join(root, "node_modules", ".bin", name);
const dev = process.env.LOOPY_DEV === "1";

function fail(message: string): never {
  console.error(`\nloopy: ${message}`);
  process.exit(1);
}

let env: ReturnType<typeof loadEnv>;
try {
  env = loadEnv();
} catch (error) {
  fail((error as Error).message);
}
const home = env.LOOPY_HOME;
// 0700: it holds the master key, tokens, the database and every worktree.
await ensureLoopyHome(home);

// One Loopy per LOOPY_HOME: the embedded database must have a single owner.
const pidFile = path.join(home, "loopy.pid");
if (existsSync(pidFile)) {
  const pid = Number(readFileSync(pidFile, "utf8"));
  let alive = false;
  try {
    process.kill(pid, 0);
    alive = pid !== process.pid;
  } catch {
    alive = false;
  }
  if (alive) fail(`Loopy is already running from ${home} (pid ${pid}). Stop it, or set LOOPY_HOME to another folder.`);
}
writeFileSync(pidFile, String(process.pid));

// Web and worker, restarted when they die (see below); stopped in this order.
let web: Supervised | undefined;
let worker: Supervised | undefined;
const workerPidFile = path.join(home, "worker.pid");
let database: DatabaseChoice | undefined;
let redis: RedisChoice | undefined;
let stopping = false;
let auth: AuthBootstrap | undefined;

async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  console.log("\nStopping Loopy…");
  // A Ctrl-C (or a signal to the process group) reaches the children too: none of them is restarted from here on.
  web?.hold();
  worker?.hold();
  // Web first (no new work), then the worker (lets its runs finish for LOOPY_SHUTDOWN_GRACE, hands over the rest), then the services.
  await web?.stop(10_000);
  await worker?.stop(parseDuration(env.LOOPY_SHUTDOWN_GRACE) + 10_000);
  rmSync(workerPidFile, { force: true });
  if (redis?.child) await stopChild(redis.child);
  if (database?.embedded) await database.embedded.stop();
  rmSync(pidFile, { force: true });
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  console.log(`Loopy home: ${home}`);
  // The master key from the first start (not the first `secret set`): there to back up from day one.
  const masterKey = await ensureMasterKey({ value: env.LOOPY_MASTER_KEY, loopyHome: home });
  if (masterKey.created)
    console.log(
      `Secrets:    created the master key ${masterKey.file} (0600); back it up with the database, stored secrets cannot be read without it`,
    );
  database = await ensureDatabase(home, env.DATABASE_URL);
  console.log(
    `Database:   ${database.source === "embedded" ? `embedded PGlite (${path.join(home, "pgdata")}, password in ${path.join(home, "db-password")})` : "DATABASE_URL"}${database.migrationsApplied.length ? `, applied ${database.migrationsApplied.length} migration(s)` : ""}`,
  );
  redis = await ensureRedis(home, env.REDIS_URL);
  console.log(
    `Redis:      ${redis.source === "REDIS_URL" ? "REDIS_URL" : redis.source === "local" ? `127.0.0.1:6379 (${redis.note})` : `redis-server child (${new URL(redis.url).host}, password in ${path.join(home, "redis-password")})`}`,
  );
  // The local admin and the CLI's token file on first start; a non-loopback HOST needs a chosen admin password.
  {
    const db = createDb(database.url);
    try {
      auth = await bootstrapAuth(db, { home, host: env.HOST, adminPassword: env.LOOPY_ADMIN_PASSWORD });
      if (auth.generatedPassword)
        console.log(`Auth:       created user "admin"; its password is in ${auth.passwordFile}`);
    } finally {
      await db.$disconnect();
    }
  }
  // The research demo (examples/char-lm) as a project, once per home; LOOPY_DEMO=0 skips it.
  if (process.env.LOOPY_DEMO !== "0") {
    const db = createDb(database.url);
    try {
      const demo = await seedDemoProject(db, { home, source: path.join(root, "examples", "char-lm") });
      if (demo.seeded)
        console.log(`Demo:       project "demo-char-lm" (${demo.path}); start a research loop on it from /research`);
    } catch (error) {
      console.warn(`Demo:       not set up (${(error as Error).message}); Loopy works without it`);
    } finally {
      await db.$disconnect();
    }
  }
} catch (error) {
  console.error(`\nloopy: ${(error as Error).message}`);
  await shutdown(1);
}

// Agent CLIs installed with `npm run agents:install` are found without touching PATH.
const agentBins = path.join(root, "tools", "agent-clis", "node_modules", ".bin");
const childEnv: NodeJS.ProcessEnv = {
  ...process.env,
  LOOPY_AGENT_BIN_DIRS: process.env.LOOPY_AGENT_BIN_DIRS ?? (existsSync(agentBins) ? agentBins : ""),
  DATABASE_URL: database?.url,
  REDIS_URL: redis?.url,
  LOOPY_HOME: home,
  PORT: String(env.PORT),
  HOST: env.HOST,
  NEXT_TELEMETRY_DISABLED: "1",
};

if (!dev) {
  console.log("Building the web app (cached after the first time)…");
  const build = spawnSync(bin("turbo"), ["run", "build", "--filter=@loopy/web", "--output-logs=errors-only"], {
    cwd: root,
    stdio: "inherit",
    env: { ...childEnv, DATABASE_URL: undefined, REDIS_URL: undefined },
  });
  if (build.status !== 0) {
    console.error("\nloopy: building the web app failed (see above)");
    await shutdown(1);
  }
}

// Supervised: a worker or web that dies is started again (1 s, 2 s, 4 s … 30 s; back to 1 s after a minute up).
// A restarted worker takes over the runs the dead one held (see executeRun). After 5 fast crashes in a row
// it gives up: without a worker runs wait in the queue, so the web stays up; without the web, Loopy stops.
const restartLog = (message: string) => console.error(`loopy: ${message}`);
worker = supervise({
  name: "worker",
  // node --import tsx, not the tsx launcher: the pid is the worker's own, and a signal reaches it directly.
  start: () =>
    startChild("worker", process.execPath, ["--import", "tsx", path.join(root, "apps/worker/src/main.ts")], {
      cwd: root,
      env: childEnv,
    }),
  onStart: (child) => writeFileSync(workerPidFile, String(child.pid ?? "")),
  log: restartLog,
  onGiveUp: () => {
    rmSync(workerPidFile, { force: true });
    restartLog(
      "no worker is running: runs wait in the queue. See the worker's output above, fix the cause and restart Loopy.",
    );
  },
});
web = supervise({
  name: "web",
  // Our server around Next.js (it gives route handlers the client's address); node --import tsx, as the worker.
  start: () =>
    startChild(
      "web",
      process.execPath,
      [
        "--import",
        "tsx",
        "src/server.ts",
        ...(dev ? ["--dev"] : []),
        "--port",
        String(env.PORT),
        "--hostname",
        env.HOST,
      ],
      {
        cwd: path.join(root, "apps/web"),
        env: childEnv,
        quiet: !dev,
      },
    ),
  log: restartLog,
  onGiveUp: () => {
    restartLog("the web app keeps crashing; stopping.");
    void shutdown(1);
  },
});

const probeHost = env.HOST === "0.0.0.0" || env.HOST === "::" ? "127.0.0.1" : env.HOST;
const url = `http://${probeHost.includes(":") ? `[${probeHost}]` : probeHost}:${env.PORT}`;
try {
  await waitFor(
    async () => (await fetch(`${url}/api/health`)).status === 200,
    120_000,
    "Loopy did not become healthy within 120 s",
    300,
  );
} catch (error) {
  console.error(`\nloopy: ${(error as Error).message}`);
  await shutdown(1);
}
// On loopback the sign-in link carries a one-time code for the local admin (in the URL fragment, which no
// server sees), not a token: once used, or after 15 minutes, what stays in the terminal is worth nothing.
// Reachable from other machines, people sign in with their password.
let signIn = `${url}/login`;
if (isLoopback(env.HOST) && auth && database) {
  const db = createDb(database.url);
  try {
    signIn = `${url}/login#code=${(await createSignInCode(db, auth.admin.id)).code}   (one-time, 15 min; a new one: npx loopy sign-in-link)`;
  } finally {
    await db.$disconnect();
  }
}
console.log(
  `\n  Loopy is ready: ${url}\n  Sign in:  ${signIn}\n  CLI:      LOOPY_URL=${url} npx loopy --help   (authenticates with ${auth?.tokenFile ?? "LOOPY_TOKEN"})\n  Ctrl-C stops it.\n`,
);

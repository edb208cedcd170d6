import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { inject } from "vitest";
import { createServices, type Services } from "@loopy/api/services";
import { createCaller, createContext } from "@loopy/api";
import { SYSTEM_ACTOR, type Actor, type Role } from "@loopy/core/access/roles";
import { createApiToken, createUser } from "@loopy/core/access";
import { actorOfRequest } from "@loopy/api/http-auth";
import { appRouter } from "@loopy/api";
import { createHTTPServer } from "@trpc/server/adapters/standalone";
import type { AddressInfo } from "node:net";
import { loadEnv } from "@loopy/config/env";
import { createTestDatabase } from "@loopy/db/test-database";
import { startRunWorker } from "@loopy/queue/run-worker";
import { startResearchWorker, type ResearchWorkerHandle } from "@loopy/queue/research-worker";

/** Where `npm run agents:install` puts the pinned agent CLIs. */
export const AGENT_BIN_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../tools/agent-clis/node_modules/.bin",
);
/** What the worker's environment would hold for secret names in tests (the fake servers accept anything). */
const TEST_SECRETS: Record<string, string> = {
  ANTHROPIC_API_KEY: "test-key",
  OPENAI_API_KEY: "test-key",
  CLAUDE_CODE_MAX_RETRIES: "0",
};

/** A temporary git repository with one commit on `main` (under `parent`, else the temporary folder). */
export async function makeRepo(
  files: Record<string, string> = { "README.md": "hello colour world\n" },
  parent = tmpdir(),
): Promise<string> {
  const dir = await mkdtemp(path.join(parent, "loopy-repo-"));
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, stdio: "pipe" });
  git("init", "-q", "-b", "main");
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  git("add", "-A");
  git("-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "initial");
  return dir;
}

export function gitIn(dir: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd: dir, stdio: "pipe" }).toString().trim();
}

export interface Harness {
  services: Services;
  api: ReturnType<typeof createCaller>;
  /** A caller whose subscriptions end when `signal` aborts (tRPC takes the signal per caller). */
  apiWithSignal(signal: AbortSignal): ReturnType<typeof createCaller>;
  /** The API as another caller: a user of some role, or nobody (null). */
  apiAs(actor: Actor | null, csrfValid?: boolean): ReturnType<typeof createCaller>;
  home: string;
  /**
   * Starts an in-process BullMQ worker that executes runs like apps/worker does. Its sandbox
   * (LOOPY_SANDBOX) is off unless asked for: many tests' commands record marks outside their
   * worktree and read `$$`, which bubblewrap rightly prevents (see test/secrets.int.test.ts).
   */
  startWorker(
    concurrency?: number,
    options?: { sandbox?: "auto" | "on" | "off"; allowHosts?: string[] },
  ): Promise<() => Promise<void>>;
  /** Starts an in-process research worker like apps/worker does (short leases, for crash tests; unsandboxed unless asked). */
  startResearchWorker(options?: {
    concurrency?: number;
    leaseMs?: number;
    sandbox?: "auto" | "on" | "off";
    allowHosts?: string[];
  }): Promise<ResearchWorkerHandle>;
  /** Shuts down every research worker started by startResearchWorker (they hand their loops over). */
  closeResearchWorkers(): Promise<void>;
  /**
   * What a worker in another process needs to join this harness (environment variables). Its
   * sandbox is off: the crash tests' commands write marks outside their worktree and read `$$`.
   */
  workerEnv: Record<string, string>;
  /**
   * Serves the API over HTTP (tRPC's standalone adapter) with the real request
   * authentication, and returns its URL and an API token of `role` for a new user.
   */
  serveApi(role?: Role): Promise<{ url: string; token: string }>;
  close(): Promise<void>;
}

/**
 * Real services on the test run's Postgres database and Redis, with a queue
 * prefix of this harness's own so parallel test files never take each other's jobs.
 */
export async function createHarness(options: { ownDatabase?: boolean } = {}): Promise<Harness> {
  const home = await mkdtemp(path.join(tmpdir(), "loopy-home-"));
  const prefix = `${inject("redisPrefix")}:${randomBytes(3).toString("hex")}`;
  // A database of its own, for a file whose rows (secrets, users) other files must not see.
  const own = options.ownDatabase ? await createTestDatabase(inject("databaseUrl")) : null;
  const env = loadEnv({
    DATABASE_URL: own?.url ?? inject("databaseUrl"),
    REDIS_URL: inject("redisUrl"),
    LOOPY_REDIS_PREFIX: prefix,
    LOOPY_HOME: home,
    LOOPY_AGENT_BIN_DIRS: AGENT_BIN_DIR,
  });
  const services = createServices(env);
  const api = createCaller(createContext(services, SYSTEM_ACTOR));
  const stops: Array<() => Promise<void>> = [];
  const researchWorkers: ResearchWorkerHandle[] = [];

  return {
    services,
    api,
    apiWithSignal: (signal) => createCaller(createContext(services, SYSTEM_ACTOR), { signal }),
    apiAs: (actor, csrfValid = true) => createCaller(createContext(services, actor, csrfValid)),
    home,
    async startWorker(concurrency = 4, options = {}) {
      const worker = await startRunWorker({
        db: services.db,
        notifier: services.notifier,
        redisUrl: env.REDIS_URL!,
        prefix,
        concurrency,
        loopyHome: home,
        agentBinDirs: env.agentBinDirs,
        secrets: (names) => Object.fromEntries(names.flatMap((n) => (TEST_SECRETS[n] ? [[n, TEST_SECRETS[n]]] : []))),
        sandbox: options.sandbox ?? "off",
        egress: { allowHosts: options.allowHosts ?? [], denyHosts: servicesOf(env) },
      });
      const stop = () => worker.close({ cancelRunning: true });
      stops.push(stop);
      return stop;
    },
    async startResearchWorker(options = {}) {
      const worker = await startResearchWorker({
        db: services.db,
        notifier: services.researchNotifier,
        redisUrl: env.REDIS_URL!,
        prefix,
        concurrency: options.concurrency ?? 2,
        loopyHome: home,
        agentBinDirs: env.agentBinDirs,
        leaseMs: options.leaseMs ?? 2_000,
        sandbox: options.sandbox ?? "off",
        egress: { allowHosts: options.allowHosts ?? [], denyHosts: servicesOf(env) },
        fleetChanged: (fleetId, status) => services.notifier.fleetChanged?.(fleetId, status) ?? Promise.resolve(),
      });
      stops.push(() => worker.close());
      researchWorkers.push(worker);
      return worker;
    },
    async closeResearchWorkers() {
      for (const worker of researchWorkers.splice(0)) await worker.close();
    },
    workerEnv: {
      DATABASE_URL: env.DATABASE_URL!,
      REDIS_URL: env.REDIS_URL!,
      LOOPY_REDIS_PREFIX: prefix,
      LOOPY_HOME: home,
      LOOPY_SANDBOX: "off",
    },
    async serveApi(role: Role = "admin") {
      const user = await createUser(services.db, { name: `user-${randomBytes(4).toString("hex")}`, role });
      const { token } = await createApiToken(services.db, { user: user.name, name: "test", role });
      const server = createHTTPServer({
        router: appRouter,
        basePath: "/api/trpc/",
        createContext: async ({ req }) => {
          const headers = new Headers();
          for (const [key, value] of Object.entries(req.headers))
            if (typeof value === "string") headers.set(key, value);
          const { actor, csrfValid } = await actorOfRequest(services.db, { headers });
          return createContext(services, actor, csrfValid);
        },
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token };
    },
    async close() {
      for (const stop of stops) await stop();
      await services.close();
      await own?.drop();
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** The test's database and Redis as host:port, which sandboxed processes must never reach (as apps/worker denies them). */
function servicesOf(env: { DATABASE_URL?: string; REDIS_URL?: string }): string[] {
  return [env.DATABASE_URL, env.REDIS_URL].flatMap((u) => {
    if (!u) return [];
    const url = new URL(u);
    return [`${url.hostname}:${url.port || (url.protocol.startsWith("redis") ? "6379" : "5432")}`];
  });
}

/** Waits until `check` returns a value (not undefined), polling the database-backed API. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What every step of the bench shares: the services, the repository, the API services, SQL, cleanups and the results. */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { createServices } from "@loopy/api/services";
import { loadEnv } from "@loopy/config/env";
import { setUpTestServices } from "../../test/services.ts";
import { AGENTS, INTERVAL_S, log, SAMPLE, WINDOW_MS } from "./common.ts";

export type Bench = Awaited<ReturnType<typeof setUpBench>>;

/** The test PostgreSQL/Redis (a fresh database and key prefix), a git repository, Loopy's services, an SQL client. */
export async function setUpBench() {
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
  const results: Record<string, unknown> = {
    agents: AGENTS,
    windowMs: WINDOW_MS,
    intervalS: INTERVAL_S,
    sample: SAMPLE,
    loadBefore: loadavg(),
  };
  return { services, home, repo, git, databaseUrl, dbName, prefix, api, sql, q, closers, results };
}

/** Runs the cleanups (last first), then closes the clients and removes the database, the home and the repository. */
export async function tearDown(bench: Bench): Promise<void> {
  const { closers, sql, api, services, home, repo } = bench;
  for (const close of closers.reverse())
    await Promise.resolve(close()).catch((e: Error) => console.error(`cleanup: ${e.message}`));
  // Cleanup after the results are written: a failure here changes nothing of them.
  await sql.end().catch(() => undefined);
  await api.close().catch(() => undefined);
  await services.cleanup();
  await rm(home, { recursive: true, force: true }).catch(() => undefined);
  await rm(repo, { recursive: true, force: true }).catch(() => undefined);
}

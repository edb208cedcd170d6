/**
 * Finds the PostgreSQL and Redis that tests use, in this order:
 *   DATABASE_URL / REDIS_URL when set;
 *   else the servers on their standard local ports (127.0.0.1:5432, 127.0.0.1:6379);
 *   else the embedded default (an in-memory PGlite server; a redis-server child).
 * Every test run gets a database of its own and a Redis key prefix of its own,
 * both removed at the end.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { Redis } from "ioredis";
import { createTestDatabase } from "@loopy/db/test-database";
import { migrate } from "@loopy/db/migrate";
import { startEmbeddedPostgres } from "@loopy/embedded/postgres";
import { ensureRedis } from "@loopy/embedded/redis";
import { stopChild } from "@loopy/embedded/processes";

export interface TestServices {
  /** Creates a fresh migrated database and returns its URL. */
  newDatabase(): Promise<string>;
  redisUrl: string;
  /** A Redis key prefix unique to this test run. */
  prefix: string;
  description: string;
  cleanup(): Promise<void>;
}

const LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres";

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined); // a probe: its answer is already decided
  }
}

export async function setUpTestServices(): Promise<TestServices> {
  const cleanups: Array<() => Promise<void>> = [];
  let newDatabase: () => Promise<string>;
  let dbDescription: string;

  const serverUrl = process.env.DATABASE_URL || ((await answers(LOCAL_POSTGRES)) ? LOCAL_POSTGRES : undefined);
  if (serverUrl) {
    const redacted = new URL(serverUrl);
    redacted.password = redacted.password ? "***" : "";
    dbDescription = `PostgreSQL at ${redacted.host} (${process.env.DATABASE_URL ? "DATABASE_URL" : "standard local port"}), a fresh database per suite`;
    newDatabase = async () => {
      const db = await createTestDatabase(serverUrl);
      cleanups.push(db.drop);
      return db.url;
    };
  } else {
    dbDescription = "embedded PGlite (no PostgreSQL found), a fresh in-memory instance per suite";
    newDatabase = async () => {
      // With a password, as `npm start` runs it: the tests go through the same authentication.
      const embedded = await startEmbeddedPostgres({ password: randomBytes(32).toString("base64url") });
      cleanups.push(() => embedded.stop());
      await migrate(embedded.url);
      return embedded.url;
    };
  }

  const home = await mkdtemp(path.join(tmpdir(), "loopy-test-redis-"));
  const redis = await ensureRedis(home, process.env.REDIS_URL || undefined);
  if (redis.child) cleanups.push(() => stopChild(redis.child!));
  const prefix = `loopy-test-${randomBytes(4).toString("hex")}`;
  cleanups.unshift(async () => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      let cursor = "0";
      do {
        const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
        cursor = next;
        if (keys.length) await client.del(...keys);
      } while (cursor !== "0");
    } finally {
      client.disconnect();
    }
  });

  const redisDescription =
    redis.source === "REDIS_URL"
      ? "Redis from REDIS_URL"
      : redis.source === "local"
        ? "Redis at 127.0.0.1:6379"
        : `a redis-server child (${new URL(redis.url).host}, with a password)`;
  return {
    newDatabase,
    redisUrl: redis.url,
    prefix,
    description: `${dbDescription}; ${redisDescription}, key prefix ${prefix}`,
    async cleanup() {
      for (const fn of cleanups) await fn().catch((e: Error) => console.error(`test cleanup: ${e.message}`));
    },
  };
}

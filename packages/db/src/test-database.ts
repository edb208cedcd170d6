import { randomBytes } from "node:crypto";
import pg from "pg";
import { migrate } from "./migrate.ts";

/**
 * Creates a fresh, migrated database next to the one `serverUrl` points at and
 * returns its URL plus a function that drops it. Used by tests so every test run
 * has a database of its own on a real PostgreSQL server.
 */
export async function createTestDatabase(
  serverUrl: string,
  prefix = "loopy_test",
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  await migrate(url.toString());
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

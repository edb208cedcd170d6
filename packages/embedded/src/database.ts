import path from "node:path";
import { migrate } from "@loopy/db/migrate";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./postgres.ts";
import { DB_PASSWORD_FILE, privateDir, readOrCreatePassword } from "./secrets.ts";

export interface DatabaseChoice {
  url: string;
  source: "DATABASE_URL" | "embedded";
  embedded?: EmbeddedPostgres;
  migrationsApplied: string[];
}

/**
 * The database to use: DATABASE_URL when set (any PostgreSQL), else the embedded
 * PGlite server with its files in <home>/pgdata. Migrations are applied either way.
 *
 * The embedded server requires the password in <home>/db-password (generated
 * on first start, 0600) and its folder is 0700: a process that cannot read
 * LOOPY_HOME (another user, a sandboxed agent) can neither connect nor read its
 * files, though the port answers on 127.0.0.1. The returned URL, which web and
 * worker get as DATABASE_URL, carries the password.
 */
export async function ensureDatabase(home: string, databaseUrl?: string): Promise<DatabaseChoice> {
  if (databaseUrl) {
    return { url: databaseUrl, source: "DATABASE_URL", migrationsApplied: await migrate(databaseUrl) };
  }
  const dataDir = path.join(home, "pgdata");
  await privateDir(dataDir);
  const password = await readOrCreatePassword(path.join(home, DB_PASSWORD_FILE));
  const embedded = await startEmbeddedPostgres({ dataDir, password });
  try {
    return { url: embedded.url, source: "embedded", embedded, migrationsApplied: await migrate(embedded.url) };
  } catch (error) {
    await embedded.stop();
    throw error;
  }
}

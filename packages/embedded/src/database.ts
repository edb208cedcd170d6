import { mkdir } from "node:fs/promises";
import path from "node:path";
import { migrate } from "@loopy/db/migrate";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./postgres.ts";

export interface DatabaseChoice {
  url: string;
  source: "DATABASE_URL" | "embedded";
  embedded?: EmbeddedPostgres;
  migrationsApplied: string[];
}

/**
 * The database to use: DATABASE_URL when set (any PostgreSQL), else the embedded
 * PGlite server with its files in <home>/pgdata. Migrations are applied either way.
 */
export async function ensureDatabase(home: string, databaseUrl?: string): Promise<DatabaseChoice> {
  if (databaseUrl) {
    return { url: databaseUrl, source: "DATABASE_URL", migrationsApplied: await migrate(databaseUrl) };
  }
  const dataDir = path.join(home, "pgdata");
  await mkdir(dataDir, { recursive: true });
  const embedded = await startEmbeddedPostgres({ dataDir });
  try {
    return { url: embedded.url, source: "embedded", embedded, migrationsApplied: await migrate(embedded.url) };
  } catch (error) {
    await embedded.stop();
    throw error;
  }
}

import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/client.ts";

export type Db = PrismaClient;
export { Prisma } from "./generated/client.ts";
export type { RunStatus, FleetStatus } from "./generated/client.ts";

/**
 * Opens a Prisma client on a PostgreSQL URL (a real server, or the embedded PGlite
 * server that `npm start` runs). One client per process; close it on shutdown.
 */
export function createDb(databaseUrl: string, options: { maxConnections?: number } = {}): Db {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: options.maxConnections ?? 10 });
  // A worker starting hundreds of runs at once queues their claim transactions for the pool's
  // connections; Prisma's default (give up after waiting 2 s) failed most of a 1,000-member fleet.
  return new PrismaClient({ adapter, transactionOptions: { maxWait: 60_000, timeout: 30_000 } });
}

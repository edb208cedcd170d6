import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/client.ts";

export type Db = PrismaClient;
export { Prisma } from "./generated/client.ts";
export type { Project, Run, RunEvent, Task, AgentProfile, RunStatus, Fleet, FleetStatus } from "./generated/client.ts";

/**
 * Opens a Prisma client on a PostgreSQL URL (a real server, or the embedded PGlite
 * server that `npm start` runs). One client per process; close it on shutdown.
 */
export function createDb(databaseUrl: string, options: { maxConnections?: number } = {}): Db {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: options.maxConnections ?? 10 });
  return new PrismaClient({ adapter });
}

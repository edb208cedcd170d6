import type { Db } from "@loopy/db/client";

export interface ComponentHealth {
  ok: boolean;
  detail: string;
}

export interface Health {
  ok: boolean;
  database: ComponentHealth;
  redis: ComponentHealth;
  worker: ComponentHealth;
}

/** Checks the database with a query; Redis and worker status come from the transport's probes. */
export async function checkHealth(probes: {
  db: Db;
  pingRedis: () => Promise<void>;
  countWorkers: () => Promise<number>;
}): Promise<Health> {
  const [database, redis, worker] = await Promise.all([
    probe(async () => {
      await probes.db.$queryRaw`SELECT 1`;
      return "connected";
    }),
    probe(async () => {
      await probes.pingRedis();
      return "connected";
    }),
    probe(async () => {
      const n = await probes.countWorkers();
      if (n === 0) throw new Error("no worker connected");
      return `${n} worker${n === 1 ? "" : "s"} connected`;
    }),
  ]);
  return { ok: database.ok && redis.ok && worker.ok, database, redis, worker };
}

async function probe(check: () => Promise<string>, timeoutMs = 2000): Promise<ComponentHealth> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const detail = await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs}ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, detail };
  } catch (error) {
    return { ok: false, detail: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

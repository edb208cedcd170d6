import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { loadEnv, required, type LoopyEnv } from "@loopy/config/env";
import { parseDuration } from "@loopy/config/duration";
import { createDb, type Db } from "@loopy/db/client";
import type { LaunchDeps } from "@loopy/core/shared";
import { checkHealth, type Health } from "@loopy/core/shared";
import { createRedis } from "@loopy/queue/redis";
import { createRunQueue, createRunScheduler, type RunJob } from "@loopy/queue/run-queue";
import { createRunNotifier, Subscriptions } from "@loopy/queue/event-bus";
import type { ResearchLaunchDeps } from "@loopy/core/research";
import { createResearchNotifier } from "@loopy/queue/research-bus";
import { createResearchQueue, createResearchScheduler, type ResearchJob } from "@loopy/queue/research-queue";

/** Everything the API needs, built once per server process from the environment. */
export interface Services extends LaunchDeps, ResearchLaunchDeps {
  /** LOOPY_MAX_RUNNING, for the fleet dispatcher. */
  maxRunning: number;
  env: LoopyEnv;
  prefix: string;
  db: Db;
  redis: Redis;
  queue: Queue<RunJob>;
  researchQueue: Queue<ResearchJob>;
  subscriptions: Subscriptions;
  health(): Promise<Health>;
  close(): Promise<void>;
}

export function createServices(env: LoopyEnv = loadEnv()): Services {
  const db = createDb(required(env, "DATABASE_URL"));
  const redisUrl = required(env, "REDIS_URL");
  const redis = createRedis(redisUrl, "producer");
  const subscriber = createRedis(redisUrl, "subscriber");
  const prefix = env.LOOPY_REDIS_PREFIX;
  const queue = createRunQueue(redis, prefix);
  const notifier = createRunNotifier(redis, prefix);
  const researchQueue = createResearchQueue(redis, prefix);
  return {
    env,
    prefix,
    db,
    redis,
    queue,
    notifier,
    scheduler: createRunScheduler(queue, redis, prefix),
    researchQueue,
    researchNotifier: createResearchNotifier(redis, prefix),
    researchScheduler: createResearchScheduler(researchQueue, redis, prefix),
    subscriptions: new Subscriptions(subscriber),
    defaultTimeoutMs: parseDuration(env.LOOPY_DEFAULT_TIMEOUT),
    agentBinDirs: env.agentBinDirs,
    loopyHome: env.LOOPY_HOME,
    publicUrl: env.LOOPY_URL,
    maxRunning: env.LOOPY_MAX_RUNNING,
    health: () =>
      checkHealth({
        db,
        pingRedis: async () => {
          await redis.ping();
        },
        countWorkers: async () => (await queue.getWorkers()).length,
      }),
    async close() {
      await queue.close();
      await researchQueue.close();
      redis.disconnect();
      subscriber.disconnect();
      await db.$disconnect();
    },
  };
}

const globalForServices = globalThis as unknown as { loopyServices?: Services };

/** The process-wide services, created on first use (survives Next's dev reloads). */
export function getServices(): Services {
  globalForServices.loopyServices ??= createServices();
  return globalForServices.loopyServices;
}

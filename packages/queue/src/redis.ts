import { Redis, type RedisOptions } from "ioredis";

/**
 * Redis connections. Workers and subscribers must block forever
 * (maxRetriesPerRequest: null, as BullMQ requires); producers on the request
 * path fail fast instead of hanging a web request while Redis is down.
 */
export function createRedis(url: string, role: "worker" | "producer" | "subscriber", options: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === "producer" ? 1 : null,
    enableOfflineQueue: role !== "producer",
    connectTimeout: 5_000,
    lazyConnect: false,
    ...options,
  });
}

/** Key prefix shared by queues and channels, e.g. "loopy" → "loopy:runs". */
export interface Namespace {
  prefix: string;
}

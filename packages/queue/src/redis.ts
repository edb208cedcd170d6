import { Redis, type RedisOptions } from "ioredis";

/**
 * Redis connections. Workers and subscribers must block forever
 * (maxRetriesPerRequest: null, as BullMQ requires); producers on the request
 * path fail fast instead of hanging a web request while Redis is down.
 */
export function createRedis(
  url: string,
  role: "worker" | "producer" | "subscriber",
  options: RedisOptions = {},
): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: role === "producer" ? 1 : null,
    enableOfflineQueue: role !== "producer",
    connectTimeout: 5_000,
    lazyConnect: false,
    ...options,
  });
  // ioredis reconnects by itself (retrying forever); say so once per outage instead of an "Unhandled error event" per attempt.
  let down = false;
  redis.on("error", (error: Error) => {
    if (down) return;
    down = true;
    console.error(`[loopy] Redis connection (${role}) lost: ${error.message}; reconnecting`);
  });
  redis.on("ready", () => {
    if (!down) return;
    down = false;
    console.error(`[loopy] Redis connection (${role}) is back`);
  });
  return redis;
}

import { mkdtemp } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { ensureRedis, NO_REDIS_HELP } from "./redis.ts";
import { freePort, stopChild } from "./processes.ts";

const hasRedisServer = spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;

describe("ensureRedis", () => {
  it("uses REDIS_URL as given", async () => {
    expect(await ensureRedis("/nonexistent", "redis://example.invalid:1")).toEqual({ url: "redis://example.invalid:1", source: "REDIS_URL" });
  });

  it.runIf(hasRedisServer)("starts redis-server as a child, with its files under LOOPY_HOME, when nothing answers", async () => {
    const home = await mkdtemp(path.join(tmpdir(), "loopy-redis-"));
    const choice = await ensureRedis(home, undefined, { localPort: await freePort() });
    expect(choice.source).toBe("child");
    const client = new Redis(choice.url);
    try {
      expect(await client.ping()).toBe("PONG");
      expect(await client.config("GET", "dir")).toEqual(["dir", path.join(home, "redis")]);
    } finally {
      client.disconnect();
      await stopChild(choice.child!);
    }
    expect(existsSync(path.join(home, "redis"))).toBe(true);
  });

  it("says how to get Redis when there is none", async () => {
    await expect(ensureRedis("/tmp", undefined, { localPort: await freePort(), serverBinary: "no-such-redis-server" })).rejects.toThrow(NO_REDIS_HELP);
  });
});

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { createConnection } from "node:net";
import path from "node:path";
import { freePort, waitFor } from "./processes.ts";

/** Sends PING over a raw socket; true when something answers +PONG (or asks for auth). */
export function pingRedis(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => done(/^(\+PONG|-NOAUTH)/.test(data.toString())));
  });
}

export interface RedisChoice {
  url: string;
  /** How it was found, for the start-up banner. */
  source: "REDIS_URL" | "local" | "child";
  child?: ChildProcess;
}

export const NO_REDIS_HELP = [
  "Loopy needs Redis and found none: REDIS_URL is not set, nothing answers on 127.0.0.1:6379, and there is no redis-server on PATH.",
  "Get one with any of:",
  "  sudo apt-get install redis-server      (Debian/Ubuntu)",
  "  brew install redis                     (macOS)",
  "  docker compose up -d redis             (from this repository)",
  "or point REDIS_URL at a Redis you have.",
].join("\n");

/**
 * Finds the Redis to use: REDIS_URL if set; else one answering on
 * 127.0.0.1:6379; else a `redis-server` from PATH started as a child with its
 * files under `home`. Throws NO_REDIS_HELP when there is none.
 */
export async function ensureRedis(
  home: string,
  redisUrl?: string,
  /** Overridable for tests: the local port to probe and the server binary to look for. */
  probe: { localPort?: number; serverBinary?: string } = {},
): Promise<RedisChoice> {
  if (redisUrl) return { url: redisUrl, source: "REDIS_URL" };
  const localPort = probe.localPort ?? 6379;
  if (await pingRedis("127.0.0.1", localPort)) return { url: `redis://127.0.0.1:${localPort}`, source: "local" };
  const serverBinary = probe.serverBinary ?? "redis-server";
  const found = spawnSync(serverBinary, ["--version"], { stdio: "ignore" });
  if (found.error || found.status !== 0) throw new Error(NO_REDIS_HELP);
  const dir = path.join(home, "redis");
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const child = spawn(
    serverBinary,
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--save", "60 1", "--daemonize", "no", "--logfile", path.join(dir, "redis.log")],
    // Its own process group: Ctrl-C reaches web and worker, and Redis stays up until they have stopped.
    { stdio: "ignore", detached: true },
  );
  await waitFor(() => pingRedis("127.0.0.1", port), 10_000, "redis-server did not answer within 10 s");
  return { url: `redis://127.0.0.1:${port}`, source: "child", child };
}

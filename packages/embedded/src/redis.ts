import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createConnection } from "node:net";
import path from "node:path";
import { freePort, waitFor } from "./processes.ts";
import { privateDir, readOrCreatePassword, REDIS_PASSWORD_FILE } from "./secrets.ts";

/** A command in RESP, so that no argument needs quoting. */
const resp = (...args: string[]) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;

/**
 * Sends PING over a raw socket, after AUTH when `password` is given. "PONG"
 * when it answers, "NOAUTH" when it wants a password (none given, or a wrong
 * one), null when nothing (or something else) answers.
 */
export function probeRedis(
  host: string,
  port: number,
  timeoutMs = 1000,
  password?: string,
): Promise<"PONG" | "NOAUTH" | null> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let received = "";
    const done = (answer: "PONG" | "NOAUTH" | null) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(null));
    socket.on("error", () => done(null));
    socket.on("connect", () => socket.write((password === undefined ? "" : resp("AUTH", password)) + resp("PING")));
    socket.on("data", (data) => {
      received += data.toString();
      const lines = received.split("\r\n");
      // The reply to PING is the last one: after AUTH's "+OK" (or "-WRONGPASS").
      if (lines.length <= (password === undefined ? 1 : 2)) return;
      const last = lines[password === undefined ? 0 : 1]!;
      done(last.startsWith("+PONG") ? "PONG" : last.startsWith("-NOAUTH") ? "NOAUTH" : null);
    });
  });
}

/** True when something answers PING with +PONG, or (without `password`) asks for one. */
export async function pingRedis(host: string, port: number, timeoutMs = 1000, password?: string): Promise<boolean> {
  const answer = await probeRedis(host, port, timeoutMs, password);
  return answer === "PONG" || (answer === "NOAUTH" && password === undefined);
}

export interface RedisChoice {
  url: string;
  /** How it was found, for the start-up banner. */
  source: "REDIS_URL" | "local" | "child";
  child?: ChildProcess;
  /** A line for the start-up banner about who can reach it. */
  note?: string;
}

/** A Redis that answers without a password is used as it is; the banner says what keeps agents out of it. */
export const LOCAL_REDIS_NOTE =
  "not started by Loopy and has no password; agents are kept away from it by the sandbox's network namespace";

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
 * 127.0.0.1:6379 (used as it is); else a `redis-server` from PATH started as a
 * child with its files under `home`. Throws NO_REDIS_HELP when there is none.
 *
 * The child requires the password in <home>/redis-password (generated on first
 * start, 0600), listens on 127.0.0.1 only and keeps its files in a 0700 folder;
 * its URL, which web and worker get as REDIS_URL, carries the password
 * (ioredis reads it from there).
 */
export async function ensureRedis(
  home: string,
  redisUrl?: string,
  /** Overridable for tests: the local port to probe and the server binary to look for. */
  probe: { localPort?: number; serverBinary?: string } = {},
): Promise<RedisChoice> {
  if (redisUrl) return { url: redisUrl, source: "REDIS_URL" };
  const localPort = probe.localPort ?? 6379;
  const local = await probeRedis("127.0.0.1", localPort);
  if (local === "PONG") return { url: `redis://127.0.0.1:${localPort}`, source: "local", note: LOCAL_REDIS_NOTE };
  if (local === "NOAUTH") {
    throw new Error(
      `The Redis on 127.0.0.1:${localPort} requires a password: set REDIS_URL=redis://:PASSWORD@127.0.0.1:${localPort} (or stop it to have Loopy start its own).`,
    );
  }
  const serverBinary = probe.serverBinary ?? "redis-server";
  const found = spawnSync(serverBinary, ["--version"], { stdio: "ignore" });
  if (found.error || found.status !== 0) throw new Error(NO_REDIS_HELP);
  const dir = path.join(home, "redis");
  await privateDir(dir);
  const password = await readOrCreatePassword(path.join(home, REDIS_PASSWORD_FILE));
  const port = await freePort();
  const child = spawn(
    serverBinary,
    [
      "-",
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--appendonly",
      "yes",
      "--save",
      "60 1",
      "--daemonize",
      "no",
      "--logfile",
      path.join(dir, "redis.log"),
    ],
    // Its own process group: Ctrl-C reaches web and worker, and Redis stays up until they have stopped.
    { stdio: ["pipe", "ignore", "ignore"], detached: true },
  );
  // The password goes in as configuration on stdin ("-"), not as --requirepass:
  // every user on the machine can read a command line (ps, /proc/<pid>/cmdline).
  child.stdin!.on("error", () => undefined);
  child.stdin!.end(`requirepass ${password}\n`);
  try {
    await waitFor(
      () => pingRedis("127.0.0.1", port, 1000, password),
      10_000,
      "redis-server did not answer within 10 s",
    );
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return { url: `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`, source: "child", child };
}

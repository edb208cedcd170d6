import { chmod, mkdtemp, readFile, stat } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { ensureRedis, LOCAL_REDIS_NOTE, NO_REDIS_HELP, probeRedis } from "./redis.ts";
import { freePort, stopChild, waitFor } from "./processes.ts";

const hasRedisServer = spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;

describe("ensureRedis", () => {
  it("uses REDIS_URL as given", async () => {
    expect(await ensureRedis("/nonexistent", "redis://example.invalid:1")).toEqual({
      url: "redis://example.invalid:1",
      source: "REDIS_URL",
    });
  });

  it.runIf(hasRedisServer)(
    "starts redis-server as a child, with its files under LOOPY_HOME and a password, when nothing answers",
    async () => {
      const home = await mkdtemp(path.join(tmpdir(), "loopy-redis-"));
      const choice = await ensureRedis(home, undefined, { localPort: await freePort() });
      expect(choice.source).toBe("child");
      const password = (await readFile(path.join(home, "redis-password"), "utf8")).trim();
      expect(password).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const port = Number(new URL(choice.url).port);
      expect(choice.url).toBe(`redis://:${password}@127.0.0.1:${port}`);
      const client = new Redis(choice.url);
      try {
        expect(await client.ping()).toBe("PONG");
        expect(await client.config("GET", "dir")).toEqual(["dir", path.join(home, "redis")]);
        expect(await client.config("GET", "bind")).toEqual(["bind", "127.0.0.1"]);
        // Without AUTH (redis-cli as an agent would run it) nothing is read or written.
        expect(await rawCommands(port, "SET loopy-test-intruder 1\r\nGET anything\r\n", 2)).toEqual([
          "-NOAUTH Authentication required.",
          "-NOAUTH Authentication required.",
        ]);
        expect(await probeRedis("127.0.0.1", port)).toBe("NOAUTH");
        expect(await probeRedis("127.0.0.1", port, 1000, "not-the-password")).toBe("NOAUTH");
        expect(await client.exists("loopy-test-intruder")).toBe(0);
        // The password is not on the command line, which every user can read.
        const cmdline = `/proc/${choice.child!.pid}/cmdline`;
        if (existsSync(cmdline)) expect(readFileSync(cmdline, "latin1")).not.toContain(password);
      } finally {
        client.disconnect();
        await stopChild(choice.child!);
      }
      expect((await stat(path.join(home, "redis"))).mode & 0o777).toBe(0o700);
      expect((await stat(path.join(home, "redis-password"))).mode & 0o777).toBe(0o600);

      // The next start uses the same password; one group or others can read is refused.
      const again = await ensureRedis(home, undefined, { localPort: await freePort() });
      await stopChild(again.child!);
      expect(again.url).toContain(`:${password}@`);
      await chmod(path.join(home, "redis-password"), 0o640);
      await expect(ensureRedis(home, undefined, { localPort: await freePort() })).rejects.toThrow(
        /can be read by other users/,
      );
    },
  );

  it.runIf(hasRedisServer)(
    "uses a Redis it did not start as it is, and says so; asks for REDIS_URL when that one wants a password",
    async () => {
      const port = await freePort();
      const dir = await mkdtemp(path.join(tmpdir(), "loopy-redis-other-"));
      const other = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""], {
        stdio: "ignore",
      });
      try {
        await waitFor(
          async () => (await probeRedis("127.0.0.1", port)) === "PONG",
          10_000,
          "redis-server did not answer",
        );
        expect(await ensureRedis(dir, undefined, { localPort: port })).toEqual({
          url: `redis://127.0.0.1:${port}`,
          source: "local",
          note: LOCAL_REDIS_NOTE,
        });
        const admin = new Redis({ host: "127.0.0.1", port });
        await admin.config("SET", "requirepass", "someone-elses-password");
        admin.disconnect();
        await expect(ensureRedis(dir, undefined, { localPort: port })).rejects.toThrow(
          `requires a password: set REDIS_URL=redis://:PASSWORD@127.0.0.1:${port}`,
        );
      } finally {
        await stopChild(other);
      }
    },
  );

  it("says how to get Redis when there is none", async () => {
    await expect(
      ensureRedis("/tmp", undefined, { localPort: await freePort(), serverBinary: "no-such-redis-server" }),
    ).rejects.toThrow(NO_REDIS_HELP);
  });
});

/** Inline commands over a raw socket, as `redis-cli` or `nc` would send them; the first `lines` reply lines. */
function rawCommands(port: number, commands: string, lines: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let received = "";
    socket.setTimeout(5000, () => socket.destroy(new Error(`no reply; got ${JSON.stringify(received)}`)));
    socket.on("error", reject);
    socket.on("connect", () => socket.write(commands));
    socket.on("data", (data) => {
      received += data.toString();
      const replies = received.split("\r\n");
      if (replies.length > lines) {
        socket.destroy();
        resolve(replies.slice(0, lines));
      }
    });
  });
}

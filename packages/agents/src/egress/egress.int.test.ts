import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BRIDGE_PATH, bridgeArgv, gatewayBaseUrl, openEgress, type EgressSession } from "./egress.ts";

/** An HTTP server on 127.0.0.1 that counts its connections and answers with `handler` (or "hello from <name>"). */
async function localServer(name: string, handler?: http.RequestListener) {
  const seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      if (handler) handler(req, res);
      else res.end(`hello from ${name}`);
    });
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { port, seen, connections: () => connections, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Writes `text` to a Unix socket and reads until the other side closes (a refusal closes the connection). */
function exchange(socketPath: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let answer = "";
    socket.on("data", (c: Buffer) => (answer += c));
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
    socket.write(text);
  });
}

/** CONNECT through the proxy socket; on 200 sends a GET through the tunnel and returns that answer too. */
async function connectAndGet(
  socketPath: string,
  target: string,
): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let buffer = "";
    let tunnelled = false;
    let status = 0;
    let head = "";
    socket.on("data", (c: Buffer) => {
      buffer += c;
      if (tunnelled || !buffer.includes("\r\n\r\n")) return;
      head = buffer.slice(0, buffer.indexOf("\r\n\r\n"));
      status = Number(head.split(" ")[1]);
      if (status !== 200) return;
      tunnelled = true;
      buffer = "";
      socket.write(`GET /through-tunnel HTTP/1.1\r\nHost: ${target}\r\nConnection: close\r\n\r\n`);
    });
    socket.on("end", () =>
      resolve({ status, head, body: tunnelled ? buffer : buffer.slice(buffer.indexOf("\r\n\r\n") + 4) }),
    );
    socket.on("error", reject);
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  });
}

/** An absolute-form request through the proxy socket, as an HTTP client configured with a proxy sends it. */
function proxiedGet(
  socketPath: string,
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, path: url, headers: { host: new URL(url).host, ...headers }, agent: false },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

async function egressDir(): Promise<string> {
  return path.join(await mkdtemp(path.join(tmpdir(), "loopy-egress-test-")), "egress");
}

describe("egress proxy (real sockets)", () => {
  let allowed: Awaited<ReturnType<typeof localServer>>;
  let database: Awaited<ReturnType<typeof localServer>>;
  let deniedByIp: Awaited<ReturnType<typeof localServer>>;
  let deniedByName: Awaited<ReturnType<typeof localServer>>;
  let session: EgressSession;
  const denials: Array<[string, string]> = [];

  beforeAll(async () => {
    allowed = await localServer("allowed");
    database = await localServer("database");
    deniedByIp = await localServer("denied-ip");
    deniedByName = await localServer("denied-name");
    session = await openEgress({
      dir: await egressDir(),
      allowHosts: [
        `127.0.0.1:${allowed.port}`,
        `127.0.0.1:${deniedByIp.port}`,
        `127.0.0.1:${deniedByName.port}`,
        "localhost",
        "*.example.com",
      ],
      denyHosts: [`127.0.0.1:${deniedByIp.port}`, `localhost:${deniedByName.port}`],
      onDenied: (target, reason) => denials.push([target, reason]),
    });
  });
  afterAll(async () => {
    await session.close();
    for (const s of [allowed, database, deniedByIp, deniedByName]) await s.close();
  });

  it("creates its folder 0700 with the proxy socket in it", async () => {
    expect((await stat(session.dir)).mode & 0o777).toBe(0o700);
    expect(session.proxySocket).toBe(path.join(session.dir, "proxy.sock"));
    expect((await stat(session.proxySocket)).isSocket()).toBe(true);
  });

  it("reaches an allow-listed host:port with CONNECT and with an absolute-form GET", async () => {
    const tunnel = await connectAndGet(session.proxySocket, `127.0.0.1:${allowed.port}`);
    expect(tunnel.status).toBe(200);
    expect(tunnel.body).toContain("hello from allowed");

    const plain = await proxiedGet(session.proxySocket, `http://127.0.0.1:${allowed.port}/plain?q=1`, {
      "proxy-connection": "keep-alive",
      "x-kept": "yes",
    });
    expect(plain).toEqual({ status: 200, body: "hello from allowed" });
    const received = allowed.seen.at(-1)!;
    expect(received.url).toBe("/plain?q=1");
    expect(received.headers.host).toBe(`127.0.0.1:${allowed.port}`);
    expect(received.headers["x-kept"]).toBe("yes");
    expect(received.headers["proxy-connection"]).toBeUndefined();
  });

  it("refuses another local port (Loopy's database, say) with 403, before any connection to it", async () => {
    const tunnel = await connectAndGet(session.proxySocket, `127.0.0.1:${database.port}`);
    expect(tunnel.status).toBe(403);
    expect(tunnel.body).toMatch(/not in the allowed hosts/);
    const plain = await proxiedGet(session.proxySocket, `http://127.0.0.1:${database.port}/`);
    expect(plain.status).toBe(403);
    expect(database.connections()).toBe(0);
    expect(denials).toContainEqual([`127.0.0.1:${database.port}`, expect.stringMatching(/not in the allowed hosts/)]);
  });

  it("refuses a denyHosts entry even when allowed, by address and by a name that resolves to it", async () => {
    expect((await connectAndGet(session.proxySocket, `127.0.0.1:${deniedByIp.port}`)).status).toBe(403);
    const byName = await connectAndGet(session.proxySocket, `127.0.0.1:${deniedByName.port}`);
    expect(byName.status).toBe(403);
    expect(byName.body).toMatch(/deny list/);
    expect(deniedByIp.connections() + deniedByName.connections()).toBe(0);
  });

  it("refuses localhost:<port> when only 127.0.0.1:<port> is listed, and a name listed without a port that resolves to loopback", async () => {
    const other = await connectAndGet(session.proxySocket, `localhost:${allowed.port}`);
    expect(other.status).toBe(403);
    const loopback = await connectAndGet(session.proxySocket, "localhost:80");
    expect(loopback.status).toBe(403);
    expect(loopback.body).toMatch(/loopback address/);
    // Spellings the URL parser turns into 127.0.0.1 are checked as 127.0.0.1.
    expect((await connectAndGet(session.proxySocket, `127.1:${database.port}`)).status).toBe(403);
    expect((await connectAndGet(session.proxySocket, `[::ffff:127.0.0.1]:${database.port}`)).status).toBe(403);
  });

  it("refuses a host not in the list without looking it up", async () => {
    const started = Date.now();
    const refused = await connectAndGet(session.proxySocket, "example.invalid:443");
    expect(refused.status).toBe(403);
    // A lookup would have answered 502 "cannot resolve"; this reason comes before any DNS.
    expect(refused.body).toMatch(/example\.invalid:443 is not in the allowed hosts/);
    expect(Date.now() - started).toBeLessThan(1_000);
    // "*.example.com" is subdomains only, on 80 and 443 only.
    expect((await connectAndGet(session.proxySocket, "example.com:443")).status).toBe(403);
    expect((await connectAndGet(session.proxySocket, "evilexample.com:443")).status).toBe(403);
    expect((await connectAndGet(session.proxySocket, "api.example.com:22")).status).toBe(403);
    expect(denials.some(([target]) => target === "example.invalid:443")).toBe(true);
  });

  it("answers bad requests with 4xx and keeps serving", async () => {
    expect(await exchange(session.proxySocket, "HELLO\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 /);
    expect(await exchange(session.proxySocket, "GET /origin-form HTTP/1.1\r\nHost: x\r\n\r\n")).toMatch(
      /^HTTP\/1\.1 400 /,
    );
    expect(await exchange(session.proxySocket, "CONNECT no-port HTTP/1.1\r\nHost: x\r\n\r\n")).toMatch(
      /^HTTP\/1\.1 400 /,
    );
    expect(
      await exchange(
        session.proxySocket,
        `GET http://127.0.0.1:${allowed.port}/ HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`,
      ),
    ).toMatch(/^HTTP\/1\.1 431 /);
    expect(
      await exchange(
        session.proxySocket,
        "GET ws://x/ HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
      ),
    ).toMatch(/^HTTP\/1\.1 400 /);
    expect((await proxiedGet(session.proxySocket, `http://127.0.0.1:${allowed.port}/after`)).status).toBe(200);
  });
});

describe("egress gateway (real sockets)", () => {
  const placeholder = "loopy-placeholder-3f9a0c";
  const secret = "sk-the-real-key-42";
  let upstream: Awaited<ReturnType<typeof localServer>>;
  let session: EgressSession;
  let secondWritten = false;

  beforeAll(async () => {
    upstream = await localServer("model", (req, res) => {
      if (!req.url?.startsWith("/v1/stream")) {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ ok: true }));
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write("data: one\n\n");
      setTimeout(() => {
        secondWritten = true;
        res.end("data: two\n\n");
      }, 300);
    });
    session = await openEgress({
      dir: await egressDir(),
      allowHosts: [],
      gateways: [{ upstream: `http://127.0.0.1:${upstream.port}/v1`, placeholder, secret }],
    });
  });
  afterAll(async () => {
    await session.close();
    await upstream.close();
  });

  it("replaces the placeholder by the secret in x-api-key and Authorization only (never the path, query or other headers, which an upstream may echo), drops hop-by-hop headers, rewrites Host", async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          socketPath: session.gatewaySockets[0],
          method: "POST",
          path: `/v1/models/${placeholder}?key=${placeholder}&x=1`,
          headers: {
            host: "127.0.0.1:18081",
            "x-api-key": placeholder,
            authorization: `Bearer ${placeholder}`,
            "x-echo-me": placeholder,
            "content-type": "application/json",
            connection: "keep-alive, x-private",
            "x-private": "1",
          },
          agent: false,
        },
        (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify({ model: "m", note: placeholder }));
    });
    expect(answer).toEqual({ status: 200, body: '{"ok":true}' });
    const got = upstream.seen.at(-1)!;
    expect(got.method).toBe("POST");
    expect(got.url).toBe(`/v1/models/${placeholder}?key=${placeholder}&x=1`);
    expect(got.headers["x-echo-me"]).toBe(placeholder);
    expect(got.headers["x-api-key"]).toBe(secret);
    expect(got.headers.authorization).toBe(`Bearer ${secret}`);
    expect(got.headers.host).toBe(`127.0.0.1:${upstream.port}`);
    expect(got.headers["x-private"]).toBeUndefined();
    // The body is the agent's and passes untouched.
    expect(got.body).toBe(JSON.stringify({ model: "m", note: placeholder }));
    expect(`${got.url} ${JSON.stringify(got.headers)}`.split(secret).length - 1).toBe(2);
  });

  it("streams the response: the first SSE event arrives before the second is written", async () => {
    const chunks: Array<{ text: string; secondWritten: boolean }> = [];
    await new Promise<void>((resolve, reject) => {
      const req = http.request(
        {
          socketPath: session.gatewaySockets[0],
          path: "/v1/stream",
          headers: { "x-api-key": placeholder },
          agent: false,
        },
        (res) => {
          expect(res.headers["content-type"]).toBe("text/event-stream");
          res.on("data", (c: Buffer) => chunks.push({ text: String(c), secondWritten }));
          res.on("end", resolve);
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(chunks[0]).toEqual({ text: "data: one\n\n", secondWritten: false });
    expect(chunks.map((c) => c.text).join("")).toBe("data: one\n\ndata: two\n\n");
  });

  it("gives an agent the upstream's path on its local port", () => {
    expect(gatewayBaseUrl(18081, "https://api.anthropic.com")).toBe("http://127.0.0.1:18081");
    expect(gatewayBaseUrl(18082, "http://127.0.0.1:4100/v1/")).toBe("http://127.0.0.1:18082/v1");
  });
});

describe("egress session lifecycle and forwards", () => {
  it("forwards raw TCP, and close() cuts connections and removes the sockets and the folder", async () => {
    const target = net.createServer((c) => c.pipe(c));
    await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
    const port = (target.address() as net.AddressInfo).port;
    const session = await openEgress({
      dir: await egressDir(),
      allowHosts: [],
      forwards: [{ name: "metrics", host: "127.0.0.1", port }],
    });
    expect(session.forwardSockets).toEqual([path.join(session.dir, "forward-metrics.sock")]);
    const client = net.connect(session.forwardSockets[0]!);
    const echoed = await new Promise<string>((resolve) => {
      client.once("data", (c: Buffer) => resolve(String(c)));
      client.write("ping");
    });
    expect(echoed).toBe("ping");
    const cut = new Promise<void>((r) => client.on("close", () => r()));
    await session.close();
    await cut;
    expect(existsSync(session.dir)).toBe(false);
    target.close();
  });

  it("refuses malformed options loudly", async () => {
    await expect(openEgress({ dir: await egressDir(), allowHosts: ["exa mple.com"] })).rejects.toThrow(
      /bad allowHosts entry/,
    );
    await expect(
      openEgress({ dir: await egressDir(), allowHosts: [], forwards: [{ name: "../x", host: "127.0.0.1", port: 1 }] }),
    ).rejects.toThrow(/forward name/);
  });
});

/** Runs argv, returns its exit code, signal and output (async: the egress servers live in this process). */
function run(
  argv: string[],
  timeoutMs = 20_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c));
    child.stderr.on("data", (c: Buffer) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe("egress bridge (on the host network)", () => {
  it("exits with the command's code, and dies of the command's signal", async () => {
    expect(bridgeArgv([], ["true"]).slice(0, 4)).toEqual([process.execPath, BRIDGE_PATH, "[]", "--"]);
    expect((await run(bridgeArgv([], [process.execPath, "-e", "process.exit(7)"]))).code).toBe(7);
    expect((await run(bridgeArgv([], [process.execPath, "-e", "process.kill(process.pid, 'SIGTERM')"]))).signal).toBe(
      "SIGTERM",
    );
    expect((await run(bridgeArgv([], ["/nonexistent/program"]))).code).toBe(127);
  });

  it("exits 125 with one line, without running the command, when a listener cannot start", async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const port = (taken.address() as net.AddressInfo).port;
    const marker = path.join(await mkdtemp(path.join(tmpdir(), "loopy-bridge-")), "ran");
    const result = await run(bridgeArgv([{ port, socket: "/nonexistent.sock" }], ["touch", marker]));
    taken.close();
    expect(result.code).toBe(125);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/EADDRINUSE/);
    expect(existsSync(marker)).toBe(false);
    expect((await run(bridgeArgv("not json" as never, ["true"]))).code).toBe(125);
  });
});

/** The sandbox's own flags (see sandbox.ts) plus --unshare-net; the probe runs them, so "works" means exactly these can run here. */
const BWRAP_BASE = [
  "--die-with-parent",
  "--unshare-pid",
  "--unshare-net",
  "--cap-drop",
  "ALL",
  "--ro-bind",
  "/",
  "/",
  "--dev",
  "/dev",
  "--proc",
  "/proc",
  "--tmpfs",
  "/tmp",
];
const bwrapProbe = spawnSync("bwrap", [...BWRAP_BASE, "--", "true"], { encoding: "utf8", timeout: 10_000 });
const bwrapSkip = bwrapProbe.error
  ? `bwrap is not installed (${(bwrapProbe.error as NodeJS.ErrnoException).code})`
  : bwrapProbe.status !== 0
    ? `bwrap cannot run here: ${bwrapProbe.stderr.trim().split("\n")[0]}`
    : null;

describe.skipIf(bwrapSkip !== null)(
  `egress bridge inside bubblewrap with its own network namespace${bwrapSkip ? ` (SKIPPED: ${bwrapSkip})` : ""}`,
  () => {
    it("reaches the gateway and the proxy through the bridge, not the host's loopback, and exits with the command's code", async () => {
      const placeholder = "loopy-placeholder-bwrap";
      const model = await localServer("model", (req, res) => res.end(`model saw key=${req.headers["x-api-key"]}`));
      const allowed = await localServer("allowed");
      const database = await localServer("database");
      // The egress folder under /tmp on the host: bound at the same path, which the private /tmp inside can hold.
      const dir = await egressDir();
      const session = await openEgress({
        dir,
        allowHosts: [`127.0.0.1:${allowed.port}`],
        gateways: [{ upstream: `http://127.0.0.1:${model.port}/v1`, placeholder, secret: "sk-inside-never" }],
      });
      try {
        const script = `
        const http = require("node:http"), net = require("node:net");
        const get = (port, p, headers) => new Promise((resolve, reject) => {
          http.get({ host: "127.0.0.1", port, path: p, headers }, (res) => { let b = ""; res.on("data", (c) => (b += c)); res.on("end", () => resolve(res.statusCode + " " + b)); }).on("error", reject);
        });
        const connect = (port) => new Promise((resolve) => {
          const s = net.connect(port, "127.0.0.1");
          s.on("connect", () => { s.destroy(); resolve("connected"); });
          s.on("error", (e) => resolve(e.code));
        });
        const tunnel = (port, target) => new Promise((resolve, reject) => {
          const s = net.connect(port, "127.0.0.1", () => s.write("CONNECT " + target + " HTTP/1.1\\r\\nHost: " + target + "\\r\\n\\r\\n"));
          s.once("data", (c) => { resolve(String(c).split("\\r\\n")[0]); s.destroy(); });
          s.on("error", reject);
        });
        (async () => {
          console.log("gateway: " + (await get(18081, "/v1/models", { "x-api-key": ${JSON.stringify(placeholder)} })));
          console.log("proxy allowed: " + (await tunnel(18080, "127.0.0.1:${allowed.port}")));
          console.log("proxy database: " + (await tunnel(18080, "127.0.0.1:${database.port}")));
          console.log("direct: " + (await connect(${database.port})));
          process.exit(3);
        })().catch((e) => { console.log("error: " + e.message); process.exit(1); });
      `;
        const entries = [
          { port: 18080, socket: session.proxySocket },
          { port: 18081, socket: session.gatewaySockets[0]! },
        ];
        // The bridge script itself, read-only: a checkout under /tmp (CI's clone) is hidden by the private /tmp.
        const bridgeDir = path.dirname(BRIDGE_PATH);
        const result = await run([
          "bwrap",
          ...BWRAP_BASE,
          "--bind",
          dir,
          dir,
          "--ro-bind",
          bridgeDir,
          bridgeDir,
          "--",
          ...bridgeArgv(entries, [process.execPath, "-e", script]),
        ]);
        expect(result.stderr).toBe("");
        expect(result.stdout).toContain("gateway: 200 model saw key=sk-inside-never");
        expect(result.stdout).toContain("proxy allowed: HTTP/1.1 200 Connection Established");
        expect(result.stdout).toContain("proxy database: HTTP/1.1 403 Forbidden");
        expect(result.stdout).toContain("direct: ECONNREFUSED");
        expect(result.code).toBe(3);
        expect(database.connections()).toBe(0);
      } finally {
        await session.close();
        for (const s of [model, allowed, database]) await s.close();
        await rm(path.dirname(dir), { recursive: true, force: true });
      }
    });
  },
);

import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { markClientAddress, trustedProxies } from "@loopy/api/client-address";
import { SignInLimiter } from "@loopy/api/sign-in-limiter";
import {
  handleSignIn,
  handleTrpc,
  IMPORT_BODY_LIMIT,
  SIGN_IN_BODY_LIMIT,
  TRPC_BODY_LIMIT,
} from "@loopy/api/web-routes";
import { createApiToken, createSignInCode, createUser, updateUser } from "@loopy/core/access";
import { createCaller, createContext } from "@loopy/api";
import { actorFromToken } from "@loopy/core/access";
import { createHarness, type Harness } from "./harness.ts";

/**
 * The web's route handlers over real HTTP, as apps/web/src/server.ts and Next.js run them: the
 * client address marked from the socket, then the Node request handed over as a streaming fetch
 * Request (Next passes the IncomingMessage to undici as the body, with duplex "half").
 */
describe("web routes over HTTP: client address and body caps", () => {
  let h: Harness;
  const servers: Server[] = [];
  /** The server side of each connection, to see how many bytes it read. */
  const sockets: Socket[] = [];

  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await h?.close();
  });

  async function serve(trusted: string[] = []): Promise<string> {
    const limiter = new SignInLimiter();
    const list = trustedProxies(trusted);
    const server = createServer(async (req, res) => {
      markClientAddress(req, list);
      const url = `http://${req.headers.host}${req.url}`;
      const hasBody = req.method !== "GET" && req.method !== "HEAD";
      const headers = new Headers();
      for (const [key, value] of Object.entries(req.headers))
        if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(", ") : value);
      const request = new Request(url, {
        method: req.method,
        headers,
        ...(hasBody ? { body: req as unknown as BodyInit, duplex: "half" } : {}),
      } as RequestInit);
      const response = req.url!.startsWith("/api/auth/login")
        ? await handleSignIn(request, h.services, limiter)
        : await handleTrpc(request, h.services);
      const out: Record<string, string | string[]> = {};
      response.headers.forEach((value, key) => {
        out[key] = key === "set-cookie" ? response.headers.getSetCookie() : value;
      });
      res.writeHead(response.status, out);
      if (response.body) Readable.fromWeb(response.body as never).pipe(res);
      else res.end();
    });
    server.on("connection", (socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const signIn = (base: string, name: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ name, password: "wrong password" }),
    });

  it("counts failed sign-ins by the socket's address: a forged X-Forwarded-For per attempt does not get past the limit", async () => {
    const base = await serve();
    for (let i = 0; i < 5; i++)
      expect((await signIn(base, `nobody-${i}`, { "x-forwarded-for": `203.0.113.${i}` })).status).toBe(401);
    const sixth = await signIn(base, "nobody-6", { "x-forwarded-for": "203.0.113.99" });
    expect(sixth.status).toBe(429);
    expect(sixth.headers.get("retry-after")).toBe("1");
  });

  it("behind a trusted proxy: each client behind it has its own limit", async () => {
    const base = await serve(["127.0.0.1"]);
    for (let i = 0; i < 5; i++)
      expect((await signIn(base, `someone-${i}`, { "x-forwarded-for": "198.51.100.1" })).status).toBe(401);
    expect((await signIn(base, "someone-6", { "x-forwarded-for": "198.51.100.1" })).status).toBe(429);
    // The next client of the proxy is not held up; one that writes its own X-Forwarded-For in front is still itself.
    expect((await signIn(base, "someone-7", { "x-forwarded-for": "198.51.100.2" })).status).toBe(401);
    expect((await signIn(base, "someone-8", { "x-forwarded-for": "10.9.9.9, 198.51.100.1" })).status).toBe(429);
  });

  it("a one-time sign-in code signs a browser in once, within its time, for an enabled user; only a token of the user's full role mints one", async () => {
    const base = await serve();
    const user = await createUser(h.services.db, { name: `code-${Date.now()}`, role: "operator" });
    const post = (body: unknown) =>
      fetch(`${base}/api/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });

    const { code, expiresAt } = await createSignInCode(h.services.db, user.id);
    expect(code).toMatch(/^loopy_sic_/);
    expect(expiresAt.getTime() - Date.now()).toBeGreaterThan(14 * 60_000);
    const first = await post({ code });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ user: { name: user.name, role: "operator" } });
    expect(first.headers.getSetCookie().some((c) => c.startsWith("loopy_session=loopy_ses_"))).toBe(true);
    const again = await post({ code });
    expect(again.status).toBe(401);
    expect((await again.json()).error).toMatch(/used already or has expired/);
    // Only its hash was stored, and it is gone once used.
    expect(await h.services.db.signInCode.count({ where: { userId: user.id } })).toBe(0);

    const expired = await createSignInCode(h.services.db, user.id, -1);
    expect((await post({ code: expired.code })).status).toBe(401);
    const beforeDisable = await createSignInCode(h.services.db, user.id);
    await updateUser(h.services.db, user.name, { disabled: true });
    expect((await post({ code: beforeDisable.code })).status).toBe(401);

    // `loopy sign-in-link`: for the token's own user, not from a token scoped below that user's role.
    const admin = await createUser(h.services.db, { name: `code-admin-${Date.now()}`, role: "admin" });
    const full = await createApiToken(h.services.db, { user: admin.name, name: "full", role: "admin" });
    const scoped = await createApiToken(h.services.db, { user: admin.name, name: "scoped", role: "viewer" });
    const as = async (token: string) =>
      createCaller(createContext(h.services, await actorFromToken(h.services.db, token)));
    const minted = await (await as(full.token)).auth.signInLink();
    expect((await (await post({ code: minted.code })).json()).user).toEqual({ name: admin.name, role: "admin" });
    await expect((await as(scoped.token)).auth.signInLink()).rejects.toThrow(/scoped to viewer/);
  });

  /**
   * Sends a body to `path` and returns the answer's status and text and how many bytes the server read
   * off the connection. `declared`: a Content-Length of that many bytes; otherwise chunked. Writes at
   * most `send` bytes, stopping once the answer came.
   */
  async function upload(
    base: string,
    path: string,
    options: { declared?: number; send: number; headers?: Record<string, string> },
  ) {
    const before = sockets.length;
    return new Promise<{ status: number; text: string; serverRead: number; sent: number }>((resolve, reject) => {
      const req = httpRequest(`${base}${path}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(options.declared !== undefined ? { "content-length": String(options.declared) } : {}),
          ...options.headers,
        },
      });
      let answered = false;
      let sent = 0;
      req.on("error", (error) => (answered ? undefined : reject(error)));
      req.on("response", (res: IncomingMessage) => {
        answered = true;
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () => {
          req.destroy();
          // The server's socket has seen all it will read once the answer is complete.
          setTimeout(
            () =>
              resolve({
                status: res.statusCode!,
                text,
                serverRead: sockets.slice(before).reduce((n, s) => n + s.bytesRead, 0),
                sent,
              }),
            100,
          );
        });
      });
      const chunk = Buffer.alloc(64 * 1024, "a");
      const pump = () => {
        while (!answered && sent < options.send) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        if (!answered && options.declared === undefined) req.end();
      };
      req.flushHeaders();
      pump();
    });
  }

  it("refuses a sign-in body over its cap from Content-Length alone, before reading it", async () => {
    const base = await serve();
    const result = await upload(base, "/api/auth/login", { declared: 60 * 1024 * 1024, send: 60 * 1024 * 1024 });
    expect(result.status).toBe(413);
    expect(JSON.parse(result.text)).toEqual({ error: "Request body too large: at most 16 KB" });
    expect(result.serverRead).toBeLessThan(4 * 1024 * 1024);
    expect(result.sent).toBeLessThan(60 * 1024 * 1024);
  });

  it("counts a chunked sign-in body while it streams and stops reading at the cap", async () => {
    const base = await serve();
    const result = await upload(base, "/api/auth/login", { send: 60 * 1024 * 1024 });
    expect(result.status).toBe(413);
    expect(result.serverRead).toBeLessThan(SIGN_IN_BODY_LIMIT + 4 * 1024 * 1024);
    expect(result.sent).toBeLessThan(60 * 1024 * 1024);
  });

  it("caps tRPC bodies at 4 MB (anonymous or not, declared or chunked) with a tRPC-shaped 413; a signed-in results.tsv import may be larger", async () => {
    const base = await serve();
    const user = await createUser(h.services.db, { name: `caps-${Date.now()}`, role: "admin" });
    const { token } = await createApiToken(h.services.db, { user: user.name, name: "caps", role: "admin" });
    const auth = { authorization: `Bearer ${token}` };

    const declared = await upload(base, "/api/trpc/projects.add", {
      declared: 60 * 1024 * 1024,
      send: 60 * 1024 * 1024,
    });
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.text)).toMatchObject({
      error: {
        json: {
          message: "Request body too large: at most 4 MB",
          data: { code: "PAYLOAD_TOO_LARGE", httpStatus: 413, path: "projects.add" },
        },
      },
    });
    expect(declared.serverRead).toBeLessThan(4 * 1024 * 1024);

    const chunked = await upload(base, "/api/trpc/projects.add,runs.launch?batch=1", {
      send: 60 * 1024 * 1024,
      headers: auth,
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.text)).toHaveLength(2);
    expect(chunked.serverRead).toBeLessThan(TRPC_BODY_LIMIT + 4 * 1024 * 1024);

    // Anonymous callers get the ordinary cap even for the import; a signed-in one gets the import's.
    expect((await upload(base, "/api/trpc/research.importTsv", { send: 6 * 1024 * 1024 })).status).toBe(413);
    const big = await upload(base, "/api/trpc/research.importTsv", { send: 6 * 1024 * 1024, headers: auth });
    expect(big.status).toBe(400);
    expect(big.serverRead).toBeGreaterThan(6 * 1024 * 1024);
    expect(IMPORT_BODY_LIMIT).toBeGreaterThan(40 * 1024 * 1024);

    // Ordinary calls are untouched.
    const ok = await fetch(`${base}/api/trpc/projects.list`, { headers: auth });
    expect(ok.status).toBe(200);
  });
});

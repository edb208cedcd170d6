import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { markClientAddress, trustedProxies } from "@loopy/api/client-address";
import { SignInLimiter } from "@loopy/api/sign-in-limiter";
import { handleSignIn } from "@loopy/api/web-routes";
import { createHarness, type Harness } from "./harness.ts";

/**
 * The web's route handlers over real HTTP, as apps/web/src/server.ts and Next.js run them: the
 * client address marked from the socket, then the Node request handed over as a streaming fetch
 * Request (Next passes the IncomingMessage to undici as the body, with duplex "half").
 */
describe("web routes over HTTP: client address", () => {
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
      for (const [key, value] of Object.entries(req.headers)) if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(", ") : value);
      const request = new Request(url, { method: req.method, headers, ...(hasBody ? { body: req as unknown as BodyInit, duplex: "half" } : {}) } as RequestInit);
      const response = await handleSignIn(request, h.services, limiter);
      const out: Record<string, string | string[]> = {};
      response.headers.forEach((value, key) => (out[key] = key === "set-cookie" ? response.headers.getSetCookie() : value));
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
    fetch(`${base}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ name, password: "wrong password" }) });

  it("counts failed sign-ins by the socket's address: a forged X-Forwarded-For per attempt does not get past the limit", async () => {
    const base = await serve();
    for (let i = 0; i < 5; i++) expect((await signIn(base, `nobody-${i}`, { "x-forwarded-for": `203.0.113.${i}` })).status).toBe(401);
    const sixth = await signIn(base, "nobody-6", { "x-forwarded-for": "203.0.113.99" });
    expect(sixth.status).toBe(429);
    expect(sixth.headers.get("retry-after")).toBe("1");
  });

  it("behind a trusted proxy: each client behind it has its own limit", async () => {
    const base = await serve(["127.0.0.1"]);
    for (let i = 0; i < 5; i++) expect((await signIn(base, `someone-${i}`, { "x-forwarded-for": "198.51.100.1" })).status).toBe(401);
    expect((await signIn(base, "someone-6", { "x-forwarded-for": "198.51.100.1" })).status).toBe(429);
    // The next client of the proxy is not held up; one that writes its own X-Forwarded-For in front is still itself.
    expect((await signIn(base, "someone-7", { "x-forwarded-for": "198.51.100.2" })).status).toBe(401);
    expect((await signIn(base, "someone-8", { "x-forwarded-for": "10.9.9.9, 198.51.100.1" })).status).toBe(429);
  });
});

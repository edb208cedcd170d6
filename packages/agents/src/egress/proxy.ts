import http from "node:http";
import type net from "node:net";
import type { Duplex } from "node:stream";
import { canonicalHost, hostPort, type Policy, splitHostPort, validPort } from "./hosts.ts";
import { endToEndHeaders, fixedLookup, forward, respond } from "./http-forward.ts";
import { connectFirst, httpServer, rawRespond, splice, type Tracked } from "./sockets.ts";

/**
 * The general proxy. CONNECT host:port opens a tunnel (after the checks, and
 * only then "200"); absolute-form "GET http://host/path" is forwarded with
 * the Host header taken from the URL (so it names what was checked). Anything
 * else is a 400: an origin-form request has no target, and an Upgrade over
 * plain HTTP should use CONNECT.
 */
export function proxyServer(
  policy: Policy,
  tracked: Tracked,
  agent: http.Agent,
  onDenied: (target: string, reason: string) => void,
): http.Server {
  const server = httpServer(tracked);

  server.on("connect", (req: http.IncomingMessage, client: Duplex, head: Buffer) => {
    client.on("error", () => client.destroy());
    const target = splitHostPort(req.url ?? "");
    const host = target ? canonicalHost(target.host) : null;
    if (!target || !host || target.port === null || !validPort(target.port)) {
      rawRespond(client, 400, `bad CONNECT target "${(req.url ?? "").slice(0, 200)}": host:port expected`);
      return;
    }
    const port = target.port;
    void (async () => {
      const verdict = await policy.check(host, port);
      if (client.destroyed) return;
      if (!verdict.ok) {
        if (verdict.status === 403) onDenied(hostPort(host, port), verdict.reason);
        rawRespond(client, verdict.status, verdict.reason);
        return;
      }
      let upstream: net.Socket;
      try {
        upstream = await connectFirst(verdict.addresses, port);
      } catch (error) {
        rawRespond(
          client,
          502,
          `cannot connect to ${hostPort(host, port)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        );
        return;
      }
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      tracked.add(upstream);
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      splice(client, upstream);
    })();
  });

  server.on("upgrade", (_req: http.IncomingMessage, socket: Duplex) => {
    socket.on("error", () => socket.destroy());
    rawRespond(socket, 400, "upgrade requests through this proxy must use CONNECT");
  });

  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    let url: URL | null = null;
    try {
      if (/^http:\/\//i.test(req.url ?? "")) url = new URL(req.url ?? "");
    } catch {
      url = null;
    }
    const host = url ? canonicalHost(url.hostname) : null;
    if (!url || !host || url.username || url.password) {
      req.resume();
      respond(res, 400, "the proxy takes CONNECT host:port or an absolute-form http:// request");
      return;
    }
    const port = url.port ? Number(url.port) : 80;
    void (async () => {
      const verdict = await policy.check(host, port);
      if (!verdict.ok) {
        if (verdict.status === 403) onDenied(hostPort(host, port), verdict.reason);
        req.resume();
        respond(res, verdict.status, verdict.reason);
        return;
      }
      const headers = { ...endToEndHeaders(req), host: url.host };
      let upstreamReq: http.ClientRequest;
      try {
        upstreamReq = http.request({
          host,
          port,
          method: req.method,
          path: `${url.pathname}${url.search}`,
          headers,
          agent,
          lookup: fixedLookup(verdict.addresses),
        });
      } catch (error) {
        req.resume();
        respond(res, 400, `bad request: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        return;
      }
      forward(req, res, upstreamReq, hostPort(host, port));
    })();
  });
  return server;
}

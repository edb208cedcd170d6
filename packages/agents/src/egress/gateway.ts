import http from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";
import type { EgressGateway } from "./egress.ts";
import { endToEndHeaders, forward, respond } from "./http-forward.ts";
import { httpServer, rawRespond, type Tracked } from "./sockets.ts";

/**
 * Where the key may go: the headers model APIs read it from. Only there is the
 * placeholder replaced. Not in the path, the query or any other header: an
 * agent could put the placeholder where the upstream echoes it back (a 404
 * naming the unknown model id) and read the key from the answer.
 */
const AUTH_HEADERS = new Set(["authorization", "x-api-key", "x-goog-api-key", "api-key", "proxy-authorization"]);

/**
 * A gateway: origin-form requests ("POST /v1/messages") go to the upstream
 * origin with their path as is, Host rewritten, hop-by-hop headers dropped,
 * and the placeholder replaced by the secret in the authentication headers
 * only (`AUTH_HEADERS`: x-api-key, Authorization: Bearer, x-goog-api-key). The
 * body is streamed both ways untouched. No host checks: the upstream is
 * Loopy's configuration, not the agent's choice.
 */
export function gatewayServer(
  gateway: EgressGateway,
  tracked: Tracked,
  agents: { http: http.Agent; https: https.Agent },
): http.Server {
  const upstream = new URL(gateway.upstream);
  if (upstream.protocol !== "http:" && upstream.protocol !== "https:")
    throw new Error(`egress: gateway upstream must be http(s): ${gateway.upstream}`);
  const swap =
    gateway.placeholder && gateway.secret !== undefined
      ? (s: string, header: string) =>
          AUTH_HEADERS.has(header) ? s.split(gateway.placeholder!).join(gateway.secret!) : s
      : (s: string) => s;
  const client = upstream.protocol === "https:" ? https : http;
  const agent = upstream.protocol === "https:" ? agents.https : agents.http;
  const server = httpServer(tracked);
  server.on("upgrade", (_req: http.IncomingMessage, socket: Duplex) => {
    socket.on("error", () => socket.destroy());
    rawRespond(socket, 400, "the gateway does not forward upgrade requests");
  });
  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const target = req.url ?? "";
    if (!target.startsWith("/") || target.startsWith("//")) {
      req.resume();
      respond(res, 400, "the gateway takes origin-form requests (a path starting with /)");
      return;
    }
    const headers = { ...endToEndHeaders(req, swap), host: upstream.host };
    let upstreamReq: http.ClientRequest;
    try {
      upstreamReq = client.request({
        protocol: upstream.protocol,
        hostname: upstream.hostname.replace(/^\[|\]$/g, ""),
        port: upstream.port || undefined,
        method: req.method,
        path: target,
        headers,
        agent,
      });
    } catch (error) {
      // Characters Node refuses in a path or header value (the secret could bring them, too).
      req.resume();
      respond(res, 400, `bad request: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      return;
    }
    forward(req, res, upstreamReq, upstream.origin);
  });
  return server;
}

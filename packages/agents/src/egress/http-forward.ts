import type http from "node:http";
import net from "node:net";
import { CONNECT_TIMEOUT_MS } from "./sockets.ts";

/** HTTP messages through the proxy and the gateways: end-to-end headers, plain-text refusals, the streamed relay both ways. */

/** Per RFC 9110 these describe one connection, not the message, so a proxy never forwards them. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

export function respond(res: http.ServerResponse, status: number, reason: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${reason.replace(/[\r\n]+/g, " ")}\n`;
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    connection: "close",
  });
  res.end(body);
}

/**
 * Headers of `message` without the hop-by-hop ones (and those its Connection header names); a
 * repeated header stays repeated (an array), `map` applied to every value.
 */
export function endToEndHeaders(
  message: http.IncomingMessage,
  map: (value: string, name: string) => string = (v) => v,
): Record<string, string | string[]> {
  const listed = new Set((message.headers.connection ?? "").split(",").map((s) => s.trim().toLowerCase()));
  const headers: Record<string, string | string[]> = {};
  for (const [name, values] of Object.entries(message.headersDistinct)) {
    if (HOP_BY_HOP.has(name) || listed.has(name) || values === undefined) continue;
    headers[name] = values.length === 1 ? map(values[0]!, name) : values.map((v) => map(v, name));
  }
  return headers;
}

/** Writes the upstream's answer to `res` as it arrives: status, end-to-end headers, then the body chunk by chunk (SSE). */
function relayResponse(upstream: http.IncomingMessage, res: http.ServerResponse): void {
  res.writeHead(upstream.statusCode ?? 502, upstream.statusMessage, endToEndHeaders(upstream));
  upstream.pipe(res);
  upstream.on("error", () => res.destroy());
}

/** A `lookup` that answers with the addresses already checked, so the HTTP client never resolves the name again (DNS rebinding). */
export function fixedLookup(addresses: string[]): net.LookupFunction {
  const found = addresses.map((address) => ({ address, family: net.isIPv6(address) ? 6 : 4 }));
  return (_name, options, callback) => {
    if (options.all) callback(null, found);
    else callback(null, found[0]!.address, found[0]!.family);
  };
}

/** Streams `req` into `upstreamReq` and the answer back; a failure before the answer is a 502 naming `target`, after it the connection is cut. */
export function forward(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  upstreamReq: http.ClientRequest,
  target: string,
): void {
  upstreamReq.on("response", (upstream) => relayResponse(upstream, res));
  upstreamReq.on("error", (error) =>
    respond(res, 502, `cannot reach ${target}: ${(error as NodeJS.ErrnoException).code ?? error.message}`),
  );
  upstreamReq.setTimeout(CONNECT_TIMEOUT_MS, () => {
    // Only until the socket connects: an answer may take minutes (a model thinking).
    if (!upstreamReq.socket || upstreamReq.socket.connecting) upstreamReq.destroy(new Error("connect timed out"));
  });
  upstreamReq.on("socket", (socket) => {
    if (socket.connecting) socket.once("connect", () => upstreamReq.setTimeout(0));
    else upstreamReq.setTimeout(0);
  });
  res.on("close", () => {
    if (!res.writableFinished) upstreamReq.destroy();
  });
  req.pipe(upstreamReq);
  req.on("error", () => upstreamReq.destroy());
}

import type { IncomingMessage } from "node:http";
import { BlockList, isIP } from "node:net";

/**
 * The header the web server (apps/web/src/server.ts) sets on every request to the client's address
 * as it determined it, overwriting whatever the client sent. Route handlers read it: Next.js gives
 * them no socket, and the X-Forwarded-For they see is whatever the client wrote (Next only fills it
 * in when absent).
 */
export const CLIENT_ADDRESS_HEADER = "x-loopy-client-address";

/** Proxy headers dropped from a request whose peer is not a trusted proxy (Next then fills in its own from the socket). */
const PROXY_HEADERS = [
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-forwarded-port",
  "forwarded",
  "x-real-ip",
];

/** LOOPY_TRUSTED_PROXIES (already validated by loadEnv) as a lookup; null when it names none. */
export function trustedProxies(entries: string[]): BlockList | null {
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const entry of entries) {
    const [address = "", bits] = entry.split("/");
    const plain = normalizeAddress(address);
    const type = isIP(plain) === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(plain, type);
    else list.addSubnet(plain, Number(bits), type);
  }
  return list;
}

/** An address as the socket or a proxy writes it, plainly: IPv4-mapped IPv6 as IPv4, brackets and ports dropped. */
export function normalizeAddress(text: string): string {
  let address = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1] as string;
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(address);
  if (v4WithPort) address = v4WithPort[1] as string;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) address = mapped[1] as string;
  return address.toLowerCase();
}

function isTrusted(list: BlockList | null, address: string): boolean {
  const family = isIP(address);
  return !!list && family !== 0 && list.check(address, family === 6 ? "ipv6" : "ipv4");
}

/**
 * Who sent a request: the socket's peer, unless that peer is a trusted proxy; then X-Forwarded-For is
 * read from its right end (the hop the proxy itself saw), skipping further trusted proxies, and the
 * first address no trusted proxy stands for is the client. Entries left of it were written by the
 * client and could be anything, so they are never believed; a malformed hop ends the walk.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | null | undefined,
  trusted: BlockList | null,
): string {
  let client = normalizeAddress(peer ?? "") || "unknown";
  if (!isTrusted(trusted, client)) return client;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : (forwardedFor ?? ""))
    .split(",")
    .map(normalizeAddress)
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    if (!isIP(hop)) break;
    client = hop;
    if (!isTrusted(trusted, hop)) break;
  }
  return client;
}

/**
 * Called by the web server on each request before Next.js sees it: sets CLIENT_ADDRESS_HEADER, and
 * drops the proxy headers (X-Forwarded-*, Forwarded, X-Real-IP) unless the peer is a trusted proxy, so
 * a client cannot choose its address, nor claim HTTPS.
 */
export function markClientAddress(req: IncomingMessage, trusted: BlockList | null): void {
  const peer = normalizeAddress(req.socket.remoteAddress ?? "");
  req.headers[CLIENT_ADDRESS_HEADER] = clientAddress(peer, req.headers["x-forwarded-for"], trusted);
  if (!isTrusted(trusted, peer)) for (const name of PROXY_HEADERS) delete req.headers[name];
}

/**
 * The client's address in a route handler, as the web server marked it. "unknown" when the request
 * did not come through that server (`next start`/`next dev` run by hand): all such clients then
 * share one sign-in limit rather than choose their own.
 */
export function requestClientAddress(req: { headers: Headers }): string {
  return req.headers.get(CLIENT_ADDRESS_HEADER) || "unknown";
}

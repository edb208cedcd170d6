import { lookup } from "node:dns/promises";
import { chmod, lstat, mkdir, rmdir, unlink } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import type { Duplex } from "node:stream";
import { fileURLToPath } from "node:url";

/**
 * The way out of a sandbox that has its own network namespace (only loopback
 * inside): the worker opens Unix sockets in a folder that is bind-mounted into
 * the sandbox, and `bridge.mjs`, inside, turns each into a 127.0.0.1 port.
 *
 * - the general proxy (CONNECT and absolute-form HTTP) reaches only the
 *   allow-listed hosts, never Loopy's own services or the private network;
 * - a gateway per model API forwards plain HTTP to its upstream and puts the
 *   real key where the agent holds a placeholder, so the key never enters the
 *   sandbox;
 * - forwards pipe to a fixed host:port that Loopy itself opened.
 *
 * Dependency-free on purpose: it sits between a hostile process and the
 * network, and runs in every worker.
 */

export interface EgressGateway {
  /** Where requests go, e.g. "http://127.0.0.1:4100/v1" or "https://api.anthropic.com". Only its origin is used: the agent's request path is kept as is (see `gatewayBaseUrl`). */
  upstream: string;
  /** A string the agent holds instead of the key (e.g. "loopy-placeholder-3f9a…"); every occurrence in request header values and in the request URL is replaced by `secret` before forwarding. */
  placeholder?: string;
  secret?: string;
}

export interface EgressOptions {
  /** A folder that this call creates (mode 0700) and fills with Unix sockets; the caller bind-mounts it into the sandbox. */
  dir: string;
  /** Hosts the general proxy may reach: "example.com", "example.com:8443", "*.example.com" (any subdomain), "127.0.0.1:9000", "[::1]:9000". Without a port: 80 and 443. */
  allowHosts: string[];
  /** host:port pairs that are always refused, even if allowed above (Loopy's database, Redis, web). A name is also resolved once here, so its addresses are refused too; without a port: every port. */
  denyHosts?: string[];
  gateways?: EgressGateway[];
  /** Extra raw TCP forwards: a Unix socket in `dir` that pipes to this host:port with no checks (used for a research experiment's metrics endpoint, which Loopy itself opens). `name`: letters, digits, `._-`. */
  forwards?: Array<{ name: string; host: string; port: number }>;
  /** Called for every refused attempt (for the run's event log). */
  onDenied?: (target: string, reason: string) => void;
}

export interface EgressSession {
  dir: string;
  /** Socket of the general HTTP proxy: CONNECT host:port (any TLS) and absolute-form plain HTTP ("GET http://host/path"). */
  proxySocket: string;
  /** One socket per gateway, same order: origin-form HTTP forwarded to the gateway's upstream origin, streaming both ways. */
  gatewaySockets: string[];
  /** One socket per `forwards` entry, same order. */
  forwardSockets: string[];
  close(): Promise<void>;
}

/** Where `bridge.mjs` is: it runs inside the sandbox with plain `node`, so it must be visible there (read-only is enough). */
export const BRIDGE_PATH = fileURLToPath(new URL("./bridge.mjs", import.meta.url));

/** One listener of the bridge: 127.0.0.1:`port` inside the sandbox, piped to `socket` (its path as seen inside). */
export interface BridgeEntry {
  port: number;
  socket: string;
}

/**
 * The argv that runs `command` behind the bridge: the same node as the worker
 * (so no PATH lookup inside the sandbox), then the listeners as JSON. The
 * bridge exits with the command's code, or 125 when a listener cannot start.
 */
export function bridgeArgv(entries: BridgeEntry[], command: string[]): string[] {
  return [process.execPath, BRIDGE_PATH, JSON.stringify(entries), "--", ...command];
}

/**
 * The base URL an agent inside is given for a gateway listening on
 * 127.0.0.1:`port`: the upstream's path on the local port, since the gateway
 * keeps request paths as they are ("https://host/v1" → "http://127.0.0.1:port/v1").
 */
export function gatewayBaseUrl(port: number, upstream: string): string {
  const pathname = new URL(upstream).pathname.replace(/\/+$/, "");
  return `http://127.0.0.1:${port}${pathname}`;
}

/** Request heads past this are refused (431): nothing legitimate needs more, and the parser must not buffer without end. */
const MAX_HEAD_BYTES = 64 * 1024;
/** Per listening socket; each proxied connection holds two descriptors in the worker. */
const MAX_CONNECTIONS = 512;
/** An upstream that does not accept the connection in this time is given up (502). */
const CONNECT_TIMEOUT_MS = 30_000;
/** A Unix socket path longer than this does not fit in sockaddr_un (108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

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

/**
 * Addresses the general proxy never connects to unless the exact host:port is
 * allow-listed: they reach the worker's own machine (Loopy's Postgres, Redis,
 * web) or its private network, including a cloud's metadata service (169.254.169.254).
 * IPv4-mapped IPv6 addresses are checked as their IPv4 address (BlockList does that).
 */
const NON_PUBLIC: Array<[string, number, "ipv4" | "ipv6", string]> = [
  ["127.0.0.0", 8, "ipv4", "loopback"],
  ["0.0.0.0", 8, "ipv4", "unspecified"],
  ["169.254.0.0", 16, "ipv4", "link-local"],
  ["10.0.0.0", 8, "ipv4", "private"],
  ["172.16.0.0", 12, "ipv4", "private"],
  ["192.168.0.0", 16, "ipv4", "private"],
  ["100.64.0.0", 10, "ipv4", "private (shared address space)"],
  ["224.0.0.0", 4, "ipv4", "multicast"],
  ["240.0.0.0", 4, "ipv4", "reserved"],
  ["::1", 128, "ipv6", "loopback"],
  ["::", 128, "ipv6", "unspecified"],
  ["fe80::", 10, "ipv6", "link-local"],
  ["fec0::", 10, "ipv6", "private (site-local)"],
  ["fc00::", 7, "ipv6", "private"],
  ["ff00::", 8, "ipv6", "multicast"],
];
const nonPublic = NON_PUBLIC.map(([prefix, bits, family, kind]) => {
  const list = new net.BlockList();
  list.addSubnet(prefix, bits, family);
  return { list, kind };
});

/** Why `address` is not a public one, or null when it is. */
function nonPublicKind(address: string): string | null {
  const family = net.isIPv4(address) ? "ipv4" : "ipv6";
  return nonPublic.find((n) => n.list.check(address, family))?.kind ?? null;
}

/**
 * A host name or IP in one canonical form, or null when it is not a valid
 * host: lower case, punycode, no trailing dot, IPv6 without brackets and
 * compressed, odd IPv4 spellings ("127.1", "0x7f.1") as dotted quads, and an
 * IPv4-mapped IPv6 address as its IPv4 address. The URL parser does most of it,
 * the same way clients do, so "allowed" and "connected to" agree.
 */
function canonicalHost(host: string): string | null {
  let h = host.trim();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  if (!h || /[\s/\\?#@]/.test(h)) return null;
  let parsed: string;
  try {
    parsed = new URL(`http://${net.isIPv6(h) ? `[${h}]` : h}/`).hostname;
  } catch {
    return null;
  }
  if (parsed.startsWith("[")) {
    const v6 = parsed.slice(1, -1);
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
    if (!mapped) return v6;
    const [hi, lo] = [Number.parseInt(mapped[1]!, 16), Number.parseInt(mapped[2]!, 16)];
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
  }
  return parsed.replace(/\.$/, "") || null;
}

/** "host:port", with brackets for IPv6, as targets are named in refusals and logs. */
function hostPort(host: string, port: number): string {
  return `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** Splits "host", "host:port", "[v6]", "[v6]:port" (a bare IPv6 address has no port). */
function splitHostPort(value: string): { host: string; port: number | null } | null {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] === undefined ? null : Number(bracketed[2]) };
  if (value.split(":").length > 2) return { host: value, port: null };
  const colon = value.lastIndexOf(":");
  if (colon < 0) return { host: value, port: null };
  const port = value.slice(colon + 1);
  if (!/^\d+$/.test(port)) return null;
  return { host: value.slice(0, colon), port: Number(port) };
}

function validPort(port: number | null): boolean {
  return port === null || (Number.isInteger(port) && port >= 1 && port <= 65_535);
}

interface HostRule {
  /** Canonical host, or the suffix (".example.com") for a wildcard. */
  host: string;
  wildcard: boolean;
  /** Null: 80 and 443 for allow rules, every port for deny rules. */
  port: number | null;
}

/** An allowHosts/denyHosts entry as a rule; throws on a malformed one (a configuration error, better loud at start). */
function parseRule(entry: string, what: string): HostRule {
  const parts = splitHostPort(entry.trim());
  if (!parts || !validPort(parts.port)) throw new Error(`egress: bad ${what} entry "${entry}"`);
  const wildcard = parts.host.startsWith("*.");
  const host = canonicalHost(wildcard ? parts.host.slice(2) : parts.host);
  if (!host || host.includes("*")) throw new Error(`egress: bad ${what} entry "${entry}"`);
  return { host: wildcard ? `.${host}` : host, wildcard, port: parts.port };
}

function ruleMatches(rule: HostRule, host: string, port: number, defaultPorts: number[] | null): boolean {
  const hostOk = rule.wildcard ? host.endsWith(rule.host) && host.length > rule.host.length : host === rule.host;
  if (!hostOk) return false;
  if (rule.port !== null) return rule.port === port;
  return defaultPorts === null || defaultPorts.includes(port);
}

type Verdict = { ok: true; addresses: string[] } | { ok: false; status: number; reason: string };

/**
 * The checks of the general proxy, in order: the allowlist (before any DNS,
 * so a refused name costs no lookup), the deny list by name, then every
 * address the name resolves to against the deny list and the non-public
 * ranges. The caller connects to these very addresses, never looking the
 * name up again (DNS rebinding).
 */
class Policy {
  private readonly allow: HostRule[];
  private readonly deny: HostRule[];

  private constructor(allow: HostRule[], deny: HostRule[]) {
    this.allow = allow;
    this.deny = deny;
  }

  /** Deny entries that are names are resolved once, so "localhost:5432" also refuses 127.0.0.1:5432 and [::1]:5432. */
  static async create(allowHosts: string[], denyHosts: string[]): Promise<Policy> {
    const allow = allowHosts.map((e) => parseRule(e, "allowHosts"));
    const deny = denyHosts.map((e) => parseRule(e, "denyHosts"));
    for (const rule of [...deny]) {
      if (rule.wildcard || net.isIP(rule.host)) continue;
      const found = await lookup(rule.host, { all: true }).catch(() => []);
      for (const a of found) {
        const host = canonicalHost(a.address);
        if (host) deny.push({ host, wildcard: false, port: rule.port });
      }
    }
    return new Policy(allow, deny);
  }

  private denied(host: string, port: number): boolean {
    return this.deny.some((r) => ruleMatches(r, host, port, null));
  }

  /** An allow rule names exactly this host:port (no wildcard, an explicit port): the one way to reach a non-public address. */
  private exact(host: string, port: number): boolean {
    return this.allow.some((r) => !r.wildcard && r.port === port && r.host === host);
  }

  async check(host: string, port: number): Promise<Verdict> {
    if (this.denied(host, port))
      return { ok: false, status: 403, reason: `refused: ${hostPort(host, port)} is on the deny list` };
    if (!this.allow.some((r) => ruleMatches(r, host, port, [80, 443]))) {
      return { ok: false, status: 403, reason: `refused: ${hostPort(host, port)} is not in the allowed hosts` };
    }
    let found: Array<{ address: string }>;
    try {
      found = net.isIP(host) ? [{ address: host }] : await lookup(host, { all: true });
    } catch (error) {
      return {
        ok: false,
        status: 502,
        reason: `cannot resolve ${host}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      };
    }
    const addresses: string[] = [];
    for (const { address: raw } of found) {
      const address = canonicalHost(raw) ?? raw;
      if (this.denied(address, port))
        return {
          ok: false,
          status: 403,
          reason: `refused: ${host} resolves to ${hostPort(address, port)}, on the deny list`,
        };
      const kind = nonPublicKind(address);
      if (kind && !this.exact(host, port) && !this.exact(address, port)) {
        return {
          ok: false,
          status: 403,
          reason: `refused: ${host} resolves to a ${kind} address (${address}); only an exact host:port in the allowed hosts may`,
        };
      }
      addresses.push(address);
    }
    if (addresses.length === 0) return { ok: false, status: 502, reason: `cannot resolve ${host}: no address` };
    return { ok: true, addresses };
  }
}

/** A plain-text response on a raw socket (CONNECT refusals, parse errors), then the connection closed. */
function rawRespond(socket: Duplex, status: number, reason: string): void {
  if (socket.destroyed) return;
  const body = `${reason.replace(/[\r\n]+/g, " ")}\n`;
  const text = http.STATUS_CODES[status] ?? "Error";
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function respond(res: http.ServerResponse, status: number, reason: string): void {
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
 * Two sockets piped both ways. Half-close passes through (a client that
 * shuts down its sending side still gets the answer); when either side is
 * gone for good, so is the other.
 */
function splice(a: Duplex, b: Duplex): void {
  a.pipe(b);
  b.pipe(a);
  const destroyBoth = () => {
    a.destroy();
    b.destroy();
  };
  a.on("error", destroyBoth).on("close", destroyBoth);
  b.on("error", destroyBoth).on("close", destroyBoth);
}

/** A TCP connection to the first of `addresses` that accepts, tried in order (an IPv6 address first on a host without an IPv6 route, say). */
function connectFirst(addresses: string[], port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let index = 0;
    let lastError: Error | undefined;
    const next = () => {
      const address = addresses[index++];
      if (address === undefined) {
        reject(lastError ?? new Error("no address"));
        return;
      }
      const socket = net.connect({ host: address, port, allowHalfOpen: true });
      socket.setTimeout(CONNECT_TIMEOUT_MS, () =>
        socket.destroy(new Error(`connecting to ${hostPort(address, port)} timed out`)),
      );
      socket.once("error", (error) => {
        lastError = error;
        next();
      });
      socket.once("connect", () => {
        socket.setTimeout(0);
        socket.removeAllListeners("error");
        resolve(socket);
      });
    };
    next();
  });
}

/**
 * Headers of `message` without the hop-by-hop ones (and those its Connection header names); a
 * repeated header stays repeated (an array), `map` applied to every value.
 */
function endToEndHeaders(
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

/** Sockets of one server (the client connections and what they were piped to), so `close()` ends them all. */
class Tracked {
  readonly sockets = new Set<Duplex>();
  add<T extends Duplex>(socket: T): T {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    return socket;
  }
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

/**
 * An HTTP server for one of the sockets: a 64 KB request head at most, 400 for
 * what does not parse (431 for a head too large), never an exception out of a
 * client's mistake. No time limit on a request body: a long upload (a big git
 * push over HTTP) is legitimate, and only the sandbox can connect.
 */
function httpServer(tracked: Tracked): http.Server {
  const server = http.createServer({ maxHeaderSize: MAX_HEAD_BYTES, requestTimeout: 0 });
  server.maxConnections = MAX_CONNECTIONS;
  server.on("connection", (socket: net.Socket) => {
    tracked.add(socket);
    socket.on("error", () => socket.destroy());
  });
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = error.code === "HPE_HEADER_OVERFLOW";
    rawRespond(
      socket,
      tooLarge ? 431 : 400,
      tooLarge ? `request head larger than ${MAX_HEAD_BYTES} bytes` : `bad request (${error.code ?? error.message})`,
    );
  });
  return server;
}

/**
 * The general proxy. CONNECT host:port opens a tunnel (after the checks, and
 * only then "200"); absolute-form "GET http://host/path" is forwarded with
 * the Host header taken from the URL (so it names what was checked). Anything
 * else is a 400: an origin-form request has no target, and an Upgrade over
 * plain HTTP should use CONNECT.
 */
function proxyServer(
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

/** A `lookup` that answers with the addresses already checked, so the HTTP client never resolves the name again (DNS rebinding). */
function fixedLookup(addresses: string[]): net.LookupFunction {
  const found = addresses.map((address) => ({ address, family: net.isIPv6(address) ? 6 : 4 }));
  return (_name, options, callback) => {
    if (options.all) callback(null, found);
    else callback(null, found[0]!.address, found[0]!.family);
  };
}

/** Streams `req` into `upstreamReq` and the answer back; a failure before the answer is a 502 naming `target`, after it the connection is cut. */
function forward(
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
function gatewayServer(
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

/** Raw TCP to a fixed host:port: the far end is something Loopy opened for this run. */
function forwardServer(host: string, port: number, tracked: Tracked): net.Server {
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    tracked.add(client);
    client.on("error", () => client.destroy());
    const upstream = tracked.add(net.connect({ host, port, allowHalfOpen: true }));
    splice(client, upstream);
  });
  server.maxConnections = MAX_CONNECTIONS;
  return server;
}

function listen(server: net.Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      server.on("error", () => {});
      resolve();
    });
  });
}

/**
 * Creates `dir` (0700: the sockets are reachable by whoever can reach the
 * folder) and opens the proxy, gateway and forward sockets in it. A folder
 * left by an earlier session (a crashed worker) is reused; sockets of the
 * same names in it are replaced. `close()` stops every listener, cuts every
 * connection, and removes the sockets and the folder.
 */
export async function openEgress(options: EgressOptions): Promise<EgressSession> {
  const dir = path.resolve(options.dir);
  const forwards = options.forwards ?? [];
  const names = new Set<string>();
  for (const f of forwards) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(f.name) || names.has(f.name))
      throw new Error(`egress: bad or repeated forward name "${f.name}"`);
    if (!validPort(f.port)) throw new Error(`egress: bad forward port ${f.port}`);
    names.add(f.name);
  }
  const gateways = options.gateways ?? [];
  const proxySocket = path.join(dir, "proxy.sock");
  const gatewaySockets = gateways.map((_, i) => path.join(dir, `gateway-${i}.sock`));
  const forwardSockets = forwards.map((f) => path.join(dir, `forward-${f.name}.sock`));
  const all = [proxySocket, ...gatewaySockets, ...forwardSockets];
  const tooLong = all.find((p) => Buffer.byteLength(p) > MAX_SOCKET_PATH);
  if (tooLong) throw new Error(`egress: socket path longer than ${MAX_SOCKET_PATH} bytes: ${tooLong}`);

  const policy = await Policy.create(options.allowHosts, options.denyHosts ?? []);
  const onDenied = (target: string, reason: string) => {
    try {
      options.onDenied?.(target, reason);
    } catch {
      // A failing logger must not take the proxy down.
    }
  };

  await mkdir(path.dirname(dir), { recursive: true });
  await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
  });
  if (!(await lstat(dir)).isDirectory()) throw new Error(`egress: ${dir} is not a folder`);
  await chmod(dir, 0o700);
  for (const p of all) await unlink(p).catch(() => {});

  const tracked = new Tracked();
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  const proxyAgent = new http.Agent({ keepAlive: true });
  const servers: net.Server[] = [
    proxyServer(policy, tracked, proxyAgent, onDenied),
    ...gateways.map((g) => gatewayServer(g, tracked, agents)),
    ...forwards.map((f) => forwardServer(f.host, f.port, tracked)),
  ];

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      const stopped = servers.map(
        (s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve())),
      );
      tracked.destroyAll();
      for (const a of [agents.http, agents.https, proxyAgent]) a.destroy();
      await Promise.all(stopped);
      for (const p of all) await unlink(p).catch(() => {});
      await rmdir(dir).catch(() => {});
    })();
    return closed;
  };
  try {
    for (const [i, server] of servers.entries()) await listen(server, all[i]!);
  } catch (error) {
    await close();
    throw error;
  }
  return { dir, proxySocket, gatewaySockets, forwardSockets, close };
}

import { chmod, lstat, mkdir, rmdir, unlink } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gatewayServer } from "./gateway.ts";
import { Policy, validPort } from "./hosts.ts";
import { proxyServer } from "./proxy.ts";
import { forwardServer, listen, Tracked } from "./sockets.ts";

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
 *
 * This file is the public surface and the session's lifecycle; the parts are
 * beside it: `hosts.ts` (address policy: allow/deny lists, non-public ranges),
 * `proxy.ts` (the general proxy), `gateway.ts` (the model gateways and key
 * substitution), `http-forward.ts` (relaying HTTP messages) and `sockets.ts`
 * (limits, piping, tracked sockets, listeners).
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

/** A Unix socket path longer than this does not fit in sockaddr_un (108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

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
  // Sockets a previous proxy left in this folder: usually none (ENOENT); one that cannot go makes listen fail below.
  for (const p of all) await unlink(p).catch(() => undefined);

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
      // Best effort: the folder is this proxy's own, and a socket or folder left behind is unlinked by the next one.
      for (const p of all) await unlink(p).catch(() => undefined);
      await rmdir(dir).catch(() => undefined);
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

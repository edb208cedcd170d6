import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import { hostPort } from "./hosts.ts";

/** Sockets and listeners of the egress session: limits, raw responses, piping, tracking, the listening servers. */

/** Request heads past this are refused (431): nothing legitimate needs more, and the parser must not buffer without end. */
const MAX_HEAD_BYTES = 64 * 1024;
/** Per listening socket; each proxied connection holds two descriptors in the worker. */
const MAX_CONNECTIONS = 512;
/** An upstream that does not accept the connection in this time is given up (502). */
export const CONNECT_TIMEOUT_MS = 30_000;

/** A plain-text response on a raw socket (CONNECT refusals, parse errors), then the connection closed. */
export function rawRespond(socket: Duplex, status: number, reason: string): void {
  if (socket.destroyed) return;
  const body = `${reason.replace(/[\r\n]+/g, " ")}\n`;
  const text = http.STATUS_CODES[status] ?? "Error";
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * Two sockets piped both ways. Half-close passes through (a client that
 * shuts down its sending side still gets the answer); when either side is
 * gone for good, so is the other.
 */
export function splice(a: Duplex, b: Duplex): void {
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
export function connectFirst(addresses: string[], port: number): Promise<net.Socket> {
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

/** Sockets of one server (the client connections and what they were piped to), so `close()` ends them all. */
export class Tracked {
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
export function httpServer(tracked: Tracked): http.Server {
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

/** Raw TCP to a fixed host:port: the far end is something Loopy opened for this run. */
export function forwardServer(host: string, port: number, tracked: Tracked): net.Server {
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    tracked.add(client);
    client.on("error", () => client.destroy());
    const upstream = tracked.add(net.connect({ host, port, allowHalfOpen: true }));
    splice(client, upstream);
  });
  server.maxConnections = MAX_CONNECTIONS;
  return server;
}

export function listen(server: net.Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      server.on("error", () => {});
      resolve();
    });
  });
}

import { createServer, type Server, type Socket } from "node:net";
import { PGlite } from "@electric-sql/pglite";
import { type Authentication, Mutex, serveConnection } from "./postgres-connection.ts";
import { scramVerifier } from "./scram.ts";

/**
 * A PostgreSQL wire-protocol server in front of one PGlite (WASM Postgres)
 * instance, so that Loopy's web and worker processes can share the embedded
 * database over TCP exactly as they would share a real server.
 *
 * PGlite runs one query at a time. Clients talk the extended protocol
 * (Parse/Bind/Execute/Sync), so interleaving messages of two connections would
 * mix their unnamed statements; pglite-socket's multiplexer queues per message
 * and can do exactly that. Here a connection holds the database from its first
 * message until the Sync (or simple Query) that ends its exchange, and for the
 * whole of an open transaction.
 *
 * With a password, every connection must authenticate with SCRAM-SHA-256
 * before it reaches the database, as with a real server: anything else on the
 * machine that can open a TCP connection (an agent's shell among them) could
 * otherwise read and write all of Loopy's data.
 *
 * The wire framing is in postgres-wire.ts, one connection's state machine in
 * postgres-connection.ts.
 */
export interface EmbeddedPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(
  options: {
    dataDir?: string;
    port?: number;
    host?: string;
    /** Required of every connection when set; without it the server lets anyone in (tests that start their own). */
    password?: string;
    /** The only user name accepted with a password; "postgres" unless set. */
    user?: string;
  } = {},
): Promise<EmbeddedPostgres> {
  const user = options.user ?? "postgres";
  if (options.password === "") throw new Error("embedded Postgres: the password must not be empty");
  const auth: Authentication | null =
    options.password === undefined ? null : { user, verifier: scramVerifier(options.password) };
  const db = await PGlite.create(options.dataDir ? { dataDir: options.dataDir } : {});
  const mutex = new Mutex();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    serveConnection(socket, db, mutex, auth)
      .finally(() => sockets.delete(socket))
      .catch((error) => {
        console.error("embedded postgres: connection failed:", error);
        socket.destroy();
      });
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("embedded Postgres: no TCP address");
  return {
    port: address.port,
    url: `postgresql://${encodeURIComponent(user)}${options.password === undefined ? "" : `:${encodeURIComponent(options.password)}`}@${host.includes(":") ? `[${host}]` : host}:${address.port}/postgres`,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.close();
    },
  };
}

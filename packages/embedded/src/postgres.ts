import { createServer, type Server, type Socket } from "node:net";
import { PGlite } from "@electric-sql/pglite";
import { SCRAM_MECHANISM, ScramExchange, scramVerifier, type ScramVerifier } from "./scram.ts";

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
 */
export interface EmbeddedPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
/** Larger than any statement Loopy sends; a bigger length is garbage, not a message. */
const MAX_MESSAGE = 256 * 1024 * 1024;
/** Before authentication a client gets no more than this per message (PostgreSQL's startup packet limit). */
const MAX_UNAUTHENTICATED_MESSAGE = 10_000;
/** PostgreSQL's authentication_timeout: a connection that has not authenticated by then is dropped. */
const AUTHENTICATION_TIMEOUT_MS = 60_000;
const AUTH_SASL = 10;
const AUTH_SASL_CONTINUE = 11;
const AUTH_SASL_FINAL = 12;

interface Authentication {
  user: string;
  verifier: ScramVerifier;
}

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const acquired = this.tail.then(() => release);
    this.tail = this.tail.then(() => next);
    return acquired;
  }
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
    serveConnection(socket, db, mutex, auth).finally(() => sockets.delete(socket));
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

/** Splits the bytes received so far into whole protocol messages. */
function takeMessages(
  buffer: Buffer,
  inStartup: boolean,
  maxMessage = MAX_MESSAGE,
): { messages: Buffer[]; rest: Buffer; inStartup: boolean } {
  const messages: Buffer[] = [];
  let offset = 0;
  while (true) {
    if (inStartup) {
      if (buffer.length - offset < 4) break;
      const length = buffer.readInt32BE(offset);
      if (length < 8 || length > maxMessage) throw new Error(`bad startup packet length ${length}`);
      if (buffer.length - offset < length) break;
      messages.push(buffer.subarray(offset, offset + length));
      offset += length;
      const code = length >= 8 ? buffer.readInt32BE(offset - length + 4) : 0;
      // After SSL/GSS requests the client sends another startup packet.
      if (code !== SSL_REQUEST && code !== GSS_REQUEST) inStartup = false;
      continue;
    }
    if (buffer.length - offset < 5) break;
    const length = buffer.readInt32BE(offset + 1);
    if (length < 4 || length > maxMessage) throw new Error(`bad message length ${length}`);
    if (buffer.length - offset < length + 1) break;
    messages.push(buffer.subarray(offset, offset + length + 1));
    offset += length + 1;
  }
  return { messages, rest: buffer.subarray(offset), inStartup };
}

/** A backend message: type byte, length, body. */
function backendMessage(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

/** AuthenticationSASL, SASLContinue or SASLFinal: an 'R' message with its code. */
function authentication(code: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const body = Buffer.alloc(4 + data.length);
  body.writeInt32BE(code, 0);
  data.copy(body, 4);
  return backendMessage("R", body);
}

/** A FATAL ErrorResponse, as PostgreSQL sends before closing a connection it refuses. */
function fatal(sqlState: string, text: string): Buffer {
  const field = (code: string, value: string) => Buffer.from(`${code}${value}\0`, "utf8");
  return backendMessage(
    "E",
    Buffer.concat([field("S", "FATAL"), field("V", "FATAL"), field("C", sqlState), field("M", text), Buffer.from([0])]),
  );
}

/** The name/value pairs of a StartupMessage (user, database, application_name …). */
function startupParameters(message: Buffer): Map<string, string> {
  const parts = message.subarray(8).toString("utf8").split("\0");
  const parameters = new Map<string, string>();
  for (let i = 0; i + 1 < parts.length && parts[i] !== ""; i += 2) parameters.set(parts[i]!, parts[i + 1]!);
  return parameters;
}

/** The mechanism and client-first-message of a SASLInitialResponse ('p' with mechanism, length, data). */
function saslInitialResponse(message: Buffer): { mechanism: string; data: string } | null {
  const body = message.subarray(5);
  const nul = body.indexOf(0);
  if (nul < 0 || body.length < nul + 5) return null;
  const length = body.readInt32BE(nul + 1);
  if (length < 0 || body.length !== nul + 5 + length) return null;
  return { mechanism: body.subarray(0, nul).toString("utf8"), data: body.subarray(nul + 5).toString("utf8") };
}

async function serveConnection(socket: Socket, db: PGlite, mutex: Mutex, auth: Authentication | null): Promise<void> {
  socket.setNoDelay(true);
  let buffer: Buffer = Buffer.alloc(0);
  let inStartup = true;
  let started = false;
  let release: (() => void) | null = null;
  let queue: Promise<void> = Promise.resolve();
  let closed = false;
  // With a password the StartupMessage is held back from PGlite (whose answer is
  // AuthenticationOk and ReadyForQuery) until the SCRAM exchange has succeeded;
  // no message of an unauthenticated client reaches the database.
  let authenticated = auth === null;
  let pendingStartup: Buffer | null = null;
  let exchange: ScramExchange | null = null;
  let user = "";

  /** Any failure to authenticate, a client that skips it included, gets what PostgreSQL says for a wrong password. */
  const refuse = () => {
    closed = true;
    socket.end(fatal("28P01", `password authentication failed for user "${user}"`));
  };

  /** One step of the SCRAM exchange; the held-back StartupMessage once it has succeeded, else null. */
  const authenticate = (message: Buffer, auth: Authentication): Buffer | null => {
    const type = String.fromCharCode(message[0] ?? 0);
    if (type === "X") {
      closed = true;
      socket.end();
      return null;
    }
    if (type !== "p") {
      refuse();
      return null;
    }
    if (!exchange) {
      const initial = saslInitialResponse(message);
      exchange = new ScramExchange(auth.verifier);
      const serverFirst = initial?.mechanism === SCRAM_MECHANISM ? exchange.first(initial.data) : null;
      if (serverFirst === null) refuse();
      else socket.write(authentication(AUTH_SASL_CONTINUE, Buffer.from(serverFirst)));
      return null;
    }
    // Like PostgreSQL, an unknown user goes through the whole exchange and fails at its end.
    const serverFinal = exchange.final(message.subarray(5).toString("utf8"));
    if (serverFinal === null || user !== auth.user) {
      refuse();
      return null;
    }
    socket.write(authentication(AUTH_SASL_FINAL, Buffer.from(serverFinal)));
    authenticated = true;
    socket.setTimeout(0);
    return pendingStartup;
  };

  const handle = async (received: Buffer): Promise<void> => {
    if (closed) return;
    let message = received;
    let isStartup = !started;
    if (isStartup) {
      const code = message.readInt32BE(4);
      if (code === SSL_REQUEST || code === GSS_REQUEST) {
        socket.write("N");
        return;
      }
      if (code === CANCEL_REQUEST) {
        socket.end();
        return;
      }
      if (code !== PROTOCOL_3) {
        socket.destroy();
        return;
      }
      started = true;
      if (auth) {
        user = startupParameters(message).get("user") ?? "";
        pendingStartup = message;
        socket.setTimeout(AUTHENTICATION_TIMEOUT_MS, () => socket.destroy());
        socket.write(authentication(AUTH_SASL, Buffer.from(`${SCRAM_MECHANISM}\0\0`)));
        return;
      }
    } else if (!authenticated && auth) {
      const startup = authenticate(message, auth);
      if (!startup) return;
      // Authenticated: PGlite now answers the StartupMessage (AuthenticationOk, parameters, ReadyForQuery).
      message = startup;
      isStartup = true;
      pendingStartup = null;
    }
    const type = isStartup ? "" : String.fromCharCode(message[0] ?? 0);
    if (type === "X") {
      socket.end();
      return;
    }
    release ??= await mutex.lock();
    await db.execProtocolRawStream(new Uint8Array(message), {
      onRawData: (data) => {
        if (!socket.destroyed) socket.write(Buffer.from(data));
      },
    });
    const endsExchange = isStartup || type === "S" || type === "Q";
    if (endsExchange && !db.isInTransaction()) {
      release();
      release = null;
    }
  };

  await new Promise<void>((resolve) => {
    socket.on("data", (chunk) => {
      let parsed: ReturnType<typeof takeMessages>;
      try {
        parsed = takeMessages(
          Buffer.concat([buffer, chunk]),
          inStartup,
          authenticated ? MAX_MESSAGE : MAX_UNAUTHENTICATED_MESSAGE,
        );
      } catch {
        socket.destroy();
        return;
      }
      buffer = parsed.rest;
      inStartup = parsed.inStartup;
      for (const message of parsed.messages) {
        queue = queue
          .then(() => handle(message))
          .catch((e) => {
            console.error("embedded postgres:", e);
            socket.destroy();
          });
      }
    });
    const finish = () => {
      closed = true;
      queue = queue.then(async () => {
        if (release) {
          // A client that vanished mid-transaction must not leave it open for everyone else.
          if (db.isInTransaction()) await db.exec("ROLLBACK").catch(() => undefined);
          release();
          release = null;
        }
      });
      void queue.then(resolve);
    };
    socket.on("close", finish);
    socket.on("error", () => socket.destroy());
  });
}

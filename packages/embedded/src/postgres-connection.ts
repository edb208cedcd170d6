import type { Socket } from "node:net";
import type { PGlite } from "@electric-sql/pglite";
import { SCRAM_MECHANISM, ScramExchange, type ScramVerifier } from "./scram.ts";
import {
  AUTH_SASL,
  AUTH_SASL_CONTINUE,
  AUTH_SASL_FINAL,
  authentication,
  CANCEL_REQUEST,
  fatal,
  GSS_REQUEST,
  MAX_MESSAGE,
  MAX_UNAUTHENTICATED_MESSAGE,
  PROTOCOL_3,
  saslInitialResponse,
  SSL_REQUEST,
  startupParameters,
  takeMessages,
} from "./postgres-wire.ts";

/** PostgreSQL's authentication_timeout: a connection that has not authenticated by then is dropped. */
const AUTHENTICATION_TIMEOUT_MS = 60_000;

export interface Authentication {
  user: string;
  verifier: ScramVerifier;
}

export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const acquired = this.tail.then(() => release);
    this.tail = this.tail.then(() => next);
    return acquired;
  }
}

/** Serves one client connection until it closes (see postgres.ts for the locking and authentication rules). */
export async function serveConnection(
  socket: Socket,
  db: PGlite,
  mutex: Mutex,
  auth: Authentication | null,
): Promise<void> {
  socket.setNoDelay(true);
  await new Connection(socket, db, mutex, auth).serve();
}

/** The state of one client connection: its framing, its hold on the database, its authentication. */
class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private inStartup = true;
  private started = false;
  private release: (() => void) | null = null;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  // With a password the StartupMessage is held back from PGlite (whose answer is
  // AuthenticationOk and ReadyForQuery) until the SCRAM exchange has succeeded;
  // no message of an unauthenticated client reaches the database.
  private authenticated: boolean;
  private pendingStartup: Buffer | null = null;
  private exchange: ScramExchange | null = null;
  private user = "";

  private readonly socket: Socket;
  private readonly db: PGlite;
  private readonly mutex: Mutex;
  private readonly auth: Authentication | null;

  constructor(socket: Socket, db: PGlite, mutex: Mutex, auth: Authentication | null) {
    this.socket = socket;
    this.db = db;
    this.mutex = mutex;
    this.auth = auth;
    this.authenticated = auth === null;
  }

  /** Any failure to authenticate, a client that skips it included, gets what PostgreSQL says for a wrong password. */
  private refuse(): void {
    this.closed = true;
    this.socket.end(fatal("28P01", `password authentication failed for user "${this.user}"`));
  }

  /** One step of the SCRAM exchange; the held-back StartupMessage once it has succeeded, else null. */
  private authenticate(message: Buffer, auth: Authentication): Buffer | null {
    const type = String.fromCharCode(message[0] ?? 0);
    if (type === "X") {
      this.closed = true;
      this.socket.end();
      return null;
    }
    if (type !== "p") {
      this.refuse();
      return null;
    }
    if (!this.exchange) {
      const initial = saslInitialResponse(message);
      this.exchange = new ScramExchange(auth.verifier);
      const serverFirst = initial?.mechanism === SCRAM_MECHANISM ? this.exchange.first(initial.data) : null;
      if (serverFirst === null) this.refuse();
      else this.socket.write(authentication(AUTH_SASL_CONTINUE, Buffer.from(serverFirst)));
      return null;
    }
    // Like PostgreSQL, an unknown user goes through the whole exchange and fails at its end.
    const serverFinal = this.exchange.final(message.subarray(5).toString("utf8"));
    if (serverFinal === null || this.user !== auth.user) {
      this.refuse();
      return null;
    }
    this.socket.write(authentication(AUTH_SASL_FINAL, Buffer.from(serverFinal)));
    this.authenticated = true;
    this.socket.setTimeout(0);
    return this.pendingStartup;
  }

  private async handle(received: Buffer): Promise<void> {
    const { socket, db, auth } = this;
    if (this.closed) return;
    let message = received;
    let isStartup = !this.started;
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
      this.started = true;
      if (auth) {
        this.user = startupParameters(message).get("user") ?? "";
        this.pendingStartup = message;
        socket.setTimeout(AUTHENTICATION_TIMEOUT_MS, () => socket.destroy());
        socket.write(authentication(AUTH_SASL, Buffer.from(`${SCRAM_MECHANISM}\0\0`)));
        return;
      }
    } else if (!this.authenticated && auth) {
      const startup = this.authenticate(message, auth);
      if (!startup) return;
      // Authenticated: PGlite now answers the StartupMessage (AuthenticationOk, parameters, ReadyForQuery).
      message = startup;
      isStartup = true;
      this.pendingStartup = null;
    }
    const type = isStartup ? "" : String.fromCharCode(message[0] ?? 0);
    if (type === "X") {
      socket.end();
      return;
    }
    this.release ??= await this.mutex.lock();
    await db.execProtocolRawStream(new Uint8Array(message), {
      onRawData: (data) => {
        if (!socket.destroyed) socket.write(Buffer.from(data));
      },
    });
    const endsExchange = isStartup || type === "S" || type === "Q";
    if (endsExchange && !db.isInTransaction()) {
      this.release();
      this.release = null;
    }
  }

  private onData(chunk: Buffer): void {
    const { socket } = this;
    let parsed: ReturnType<typeof takeMessages>;
    try {
      parsed = takeMessages(
        Buffer.concat([this.buffer, chunk]),
        this.inStartup,
        this.authenticated ? MAX_MESSAGE : MAX_UNAUTHENTICATED_MESSAGE,
      );
    } catch {
      socket.destroy();
      return;
    }
    this.buffer = parsed.rest;
    this.inStartup = parsed.inStartup;
    for (const message of parsed.messages) {
      this.queue = this.queue
        .then(() => this.handle(message))
        .catch((e) => {
          console.error("embedded postgres:", e);
          socket.destroy();
        });
    }
  }

  /** Resolves once the socket has closed and the connection's hold on the database is given back. */
  serve(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
      const finish = () => {
        this.closed = true;
        this.queue = this.queue.then(async () => {
          if (this.release) {
            // A client that vanished mid-transaction must not leave it open for everyone else.
            // A failed ROLLBACK (the transaction already aborted) leaves nothing open either; the hold is given back below.
            if (this.db.isInTransaction()) await this.db.exec("ROLLBACK").catch(() => undefined);
            this.release();
            this.release = null;
          }
        });
        void this.queue.then(resolve);
      };
      this.socket.on("close", finish);
      this.socket.on("error", () => this.socket.destroy());
    });
  }
}

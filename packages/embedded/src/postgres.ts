import { createServer, type Server, type Socket } from "node:net";
import { PGlite } from "@electric-sql/pglite";

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

export async function startEmbeddedPostgres(options: { dataDir?: string; port?: number; host?: string } = {}): Promise<EmbeddedPostgres> {
  const db = await PGlite.create(options.dataDir ? { dataDir: options.dataDir } : {});
  const mutex = new Mutex();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    serveConnection(socket, db, mutex).finally(() => sockets.delete(socket));
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
    url: `postgresql://postgres@${host}:${address.port}/postgres`,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.close();
    },
  };
}

/** Splits the bytes received so far into whole protocol messages. */
function takeMessages(buffer: Buffer, inStartup: boolean): { messages: Buffer[]; rest: Buffer; inStartup: boolean } {
  const messages: Buffer[] = [];
  let offset = 0;
  while (true) {
    if (inStartup) {
      if (buffer.length - offset < 4) break;
      const length = buffer.readInt32BE(offset);
      if (length < 8 || length > MAX_MESSAGE) throw new Error(`bad startup packet length ${length}`);
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
    if (length < 4 || length > MAX_MESSAGE) throw new Error(`bad message length ${length}`);
    if (buffer.length - offset < length + 1) break;
    messages.push(buffer.subarray(offset, offset + length + 1));
    offset += length + 1;
  }
  return { messages, rest: buffer.subarray(offset), inStartup };
}

async function serveConnection(socket: Socket, db: PGlite, mutex: Mutex): Promise<void> {
  socket.setNoDelay(true);
  let buffer: Buffer = Buffer.alloc(0);
  let inStartup = true;
  let started = false;
  let release: (() => void) | null = null;
  let queue: Promise<void> = Promise.resolve();
  let closed = false;

  const handle = async (message: Buffer): Promise<void> => {
    if (closed) return;
    const isStartup = !started;
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
        parsed = takeMessages(Buffer.concat([buffer, chunk]), inStartup);
      } catch {
        socket.destroy();
        return;
      }
      buffer = parsed.rest;
      inStartup = parsed.inStartup;
      for (const message of parsed.messages) {
        queue = queue.then(() => handle(message)).catch((e) => { console.error("embedded postgres:", e); socket.destroy(); });
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

import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, stat } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "@loopy/db/migrate";
import { createDb } from "@loopy/db/client";
import { ensureDatabase } from "./database.ts";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./postgres.ts";

/** A frontend message: type byte, length, body. */
function frontend(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function startupMessage(user: string): Buffer {
  const body = Buffer.from(`user\0${user}\0database\0postgres\0\0`);
  const head = Buffer.alloc(8);
  head.writeInt32BE(body.length + 8, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

const query = (sql: string) => frontend("Q", Buffer.from(`${sql}\0`));

function saslInitialResponse(data: string): Buffer {
  const mechanism = Buffer.from("SCRAM-SHA-256\0");
  const length = Buffer.alloc(4);
  length.writeInt32BE(Buffer.byteLength(data), 0);
  return frontend("p", Buffer.concat([mechanism, length, Buffer.from(data)]));
}

/** Sends `first` at once (and `then(reply so far)` once something came back); everything the server sent until it closed. */
function rawSession(port: number, first: Buffer[], then?: (received: Buffer) => Buffer[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let received = Buffer.alloc(0);
    let sentMore = !then;
    socket.on("connect", () => socket.write(Buffer.concat(first)));
    socket.on("data", (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (!sentMore) {
        sentMore = true;
        socket.write(Buffer.concat(then!(received)));
      }
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(received));
    socket.setTimeout(10_000, () => socket.destroy(new Error("the server did not close the connection")));
  });
}

/** The backend messages in `bytes`, as type and body. */
function backendMessages(bytes: Buffer): Array<{ type: string; body: Buffer }> {
  const messages: Array<{ type: string; body: Buffer }> = [];
  for (let at = 0; at + 5 <= bytes.length; ) {
    const length = bytes.readInt32BE(at + 1);
    messages.push({ type: String.fromCharCode(bytes[at]!), body: bytes.subarray(at + 5, at + 1 + length) });
    at += 1 + length;
  }
  return messages;
}

/** The fields of an ErrorResponse, by code letter. */
function errorFields(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const part of body.toString("utf8").split("\0")) if (part) fields[part[0]!] = part.slice(1);
  return fields;
}

const password = randomBytes(32).toString("base64url");

async function refusal(connectionString: string): Promise<Error & { code?: string }> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 10_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("CREATE TABLE intruder (x int)");
  } catch (error) {
    return error as Error & { code?: string };
  } finally {
    await client.end().catch(() => undefined); // the connection may already have been refused
  }
  throw new Error("the connection was not refused");
}

describe("embedded Postgres (PGlite over the wire protocol)", () => {
  let server: EmbeddedPostgres;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = path.join(await mkdtemp(path.join(tmpdir(), "loopy-pglite-")), "pgdata");
    server = await startEmbeddedPostgres({ dataDir, password });
  }, 60_000);
  afterAll(() => server?.stop());

  it("applies migrations once, like Prisma would record them", async () => {
    // Every migration folder of prisma/migrations, in order; the second call has nothing left to do.
    const folders = (
      await readdir(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../prisma/migrations"), {
        withFileTypes: true,
      })
    )
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    expect(folders.slice(0, 3)).toEqual([
      "20261128000000_init",
      "20261128010000_coding_loop",
      "20261128020000_project_memory",
    ]);
    expect(await migrate(server.url)).toEqual(folders);
    expect(await migrate(server.url)).toEqual([]);
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    const { rows } = await client.query(`SELECT migration_name, checksum FROM "_prisma_migrations"`);
    await client.end();
    expect(rows).toHaveLength(folders.length);
    expect(rows[0].checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it("serves two connection pools at once without mixing their statements or transactions", async () => {
    const pools = [
      new pg.Pool({ connectionString: server.url, max: 4 }),
      new pg.Pool({ connectionString: server.url, max: 4 }),
    ];
    await pools[0]!.query("CREATE TABLE IF NOT EXISTS mux (id serial primary key, v text)");
    await Promise.all(
      Array.from({ length: 120 }, async (_, i) => {
        const pool = pools[i % 2]!;
        if (i % 10 === 0) {
          const c = await pool.connect();
          await c.query("BEGIN");
          await c.query("INSERT INTO mux(v) VALUES ($1)", [`tx${i}`]);
          await new Promise((r) => setTimeout(r, 5));
          await c.query("INSERT INTO mux(v) VALUES ($1)", [`tx${i}`]);
          await c.query(i % 20 === 0 ? "ROLLBACK" : "COMMIT");
          c.release();
        } else {
          const r = await pool.query("SELECT $1::text AS v, $2::int AS n", [`q${i}`, i]);
          expect(r.rows[0]).toEqual({ v: `q${i}`, n: i });
        }
      }),
    );
    const { rows } = await pools[1]!.query("SELECT count(*)::int AS n FROM mux");
    expect(rows[0].n).toBe(12); // 12 transactions, 6 committed × 2 rows
    await Promise.all(pools.map((p) => p.end()));
  });

  it("works with the Prisma client and keeps data across restarts", async () => {
    const db = createDb(server.url);
    await db.project.create({ data: { id: "p1", name: "persisted", path: "/x", defaultBranch: "main" } });
    await db.$disconnect();
    await server.stop();
    server = await startEmbeddedPostgres({ dataDir, password });
    const again = createDb(server.url);
    expect(await again.project.findUnique({ where: { id: "p1" }, select: { name: true } })).toEqual({
      name: "persisted",
    });
    await again.$disconnect();
  }, 60_000);

  it("puts the password in its URL and lets pg in with it (SCRAM-SHA-256)", async () => {
    expect(server.url).toBe(`postgresql://postgres:${password}@127.0.0.1:${server.port}/postgres`);
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    expect((await client.query("SELECT current_user AS u, 41 + 1 AS n")).rows[0]).toEqual({ u: "postgres", n: 42 });
    await client.end();
  });

  it("refuses a wrong password, another user and no password with 28P01, and runs nothing for them", async () => {
    const wrong = await refusal(
      `postgresql://postgres:${randomBytes(32).toString("base64url")}@127.0.0.1:${server.port}/postgres`,
    );
    expect(wrong.code).toBe("28P01");
    expect(wrong.message).toBe('password authentication failed for user "postgres"');
    const otherUser = await refusal(`postgresql://admin:${password}@127.0.0.1:${server.port}/postgres`);
    expect(otherUser.code).toBe("28P01");
    expect(otherUser.message).toBe('password authentication failed for user "admin"');
    // pg itself gives up when asked for a password it does not have; the server's side is below (raw socket).
    expect((await refusal(`postgresql://postgres@127.0.0.1:${server.port}/postgres`)).message).toMatch(/password/);

    // Raw: a StartupMessage, then a Query without authenticating. The server asks for SASL and, on the Query, refuses and closes.
    const raw = backendMessages(
      await rawSession(server.port, [startupMessage("postgres"), query("CREATE TABLE intruder (x int)")]),
    );
    expect(raw.map((m) => m.type)).toEqual(["R", "E"]);
    expect(raw[0]!.body.readInt32BE(0)).toBe(10); // AuthenticationSASL
    expect(raw[0]!.body.subarray(4).toString()).toBe("SCRAM-SHA-256\0\0");
    expect(errorFields(raw[1]!.body)).toMatchObject({
      S: "FATAL",
      C: "28P01",
      M: 'password authentication failed for user "postgres"',
    });

    // Raw: a SCRAM exchange with a made-up proof, then a Query right behind it.
    const clientNonce = randomBytes(18).toString("base64");
    const forged = backendMessages(
      await rawSession(
        server.port,
        [startupMessage("postgres"), saslInitialResponse(`n,,n=*,r=${clientNonce}`)],
        (received) => {
          const serverFirst = backendMessages(received)
            .find((m) => m.type === "R" && m.body.readInt32BE(0) === 11)!
            .body.subarray(4)
            .toString();
          const nonce = /r=([^,]+)/.exec(serverFirst)![1];
          return [
            frontend("p", Buffer.from(`c=biws,r=${nonce},p=${randomBytes(32).toString("base64")}`)),
            query("CREATE TABLE intruder (x int)"),
          ];
        },
      ),
    );
    expect(forged.map((m) => [m.type, m.type === "R" ? m.body.readInt32BE(0) : null])).toEqual([
      ["R", 10],
      ["R", 11],
      ["E", null],
    ]);
    expect(errorFields(forged[2]!.body).C).toBe("28P01");

    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    expect((await client.query("SELECT to_regclass('intruder') AS t")).rows[0].t).toBeNull();
    await client.end();
  });

  it("lets anyone in without a password, for tests that start their own", async () => {
    const open = await startEmbeddedPostgres();
    try {
      expect(open.url).toBe(`postgresql://postgres@127.0.0.1:${open.port}/postgres`);
      const client = new pg.Client({ connectionString: open.url });
      await client.connect();
      expect((await client.query("SELECT 1 AS one")).rows[0]).toEqual({ one: 1 });
      await client.end();
    } finally {
      await open.stop();
    }
  }, 60_000);
});

describe("ensureDatabase (the embedded default of npm start)", () => {
  it("generates the password into LOOPY_HOME/db-password (0600), keeps pgdata 0700 and requires the password", async () => {
    const home = await mkdtemp(path.join(tmpdir(), "loopy-home-"));
    const choice = await ensureDatabase(home);
    try {
      const file = path.join(home, "db-password");
      const stored = (await readFile(file, "utf8")).trim();
      expect(stored).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await stat(path.join(home, "pgdata"))).mode & 0o777).toBe(0o700);
      expect(choice.url).toBe(`postgresql://postgres:${stored}@127.0.0.1:${choice.embedded!.port}/postgres`);
      expect(
        (await refusal(`postgresql://postgres:nope-nope-nope@127.0.0.1:${choice.embedded!.port}/postgres`)).code,
      ).toBe("28P01");
    } finally {
      await choice.embedded?.stop();
    }
  }, 60_000);
});

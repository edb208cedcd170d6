import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "@loopy/db/migrate";
import { createDb } from "@loopy/db/client";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./postgres.ts";

describe("embedded Postgres (PGlite over the wire protocol)", () => {
  let server: EmbeddedPostgres;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = path.join(await mkdtemp(path.join(tmpdir(), "loopy-pglite-")), "pgdata");
    server = await startEmbeddedPostgres({ dataDir });
  }, 60_000);
  afterAll(() => server?.stop());

  it("applies migrations once, like Prisma would record them", async () => {
    // Every migration folder of prisma/migrations, in order; the second call has nothing left to do.
    const folders = (await readdir(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../prisma/migrations"), { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    expect(folders.slice(0, 3)).toEqual(["20261128000000_init", "20261128010000_coding_loop", "20261128020000_project_memory"]);
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
    const pools = [new pg.Pool({ connectionString: server.url, max: 4 }), new pg.Pool({ connectionString: server.url, max: 4 })];
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
    server = await startEmbeddedPostgres({ dataDir });
    const again = createDb(server.url);
    expect(await again.project.findUnique({ where: { id: "p1" }, select: { name: true } })).toEqual({ name: "persisted" });
    await again.$disconnect();
  }, 60_000);
});

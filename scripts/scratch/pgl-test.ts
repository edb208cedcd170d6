import { startEmbeddedPostgres } from "/work/main/packages/embedded/src/postgres.ts";
import { migrate } from "/work/main/packages/db/src/migrate.ts";
import pg from "pg";
const t0 = Date.now();
const s = await startEmbeddedPostgres({ dataDir: "/tmp/pgl-data" });
console.log("started", s.url, Date.now() - t0);
console.log(await migrate(s.url));
console.log(await migrate(s.url));
const pools = [new pg.Pool({ connectionString: s.url, max: 5 }), new pg.Pool({ connectionString: s.url, max: 5 })];
await pools[0].query("create table if not exists t(id serial primary key, v text)");
const t1 = Date.now();
await Promise.all(Array.from({ length: 200 }, async (_, i) => {
  const pool = pools[i % 2];
  if (i % 10 === 0) {
    const c = await pool.connect();
    await c.query("BEGIN"); await c.query("insert into t(v) values ($1)", ["tx" + i]); await new Promise(r => setTimeout(r, 5)); await c.query("insert into t(v) values ($1)", ["tx" + i]); await c.query("COMMIT"); c.release();
  } else {
    const r = await pool.query("select $1::text as v, $2::int as n", ["x" + i, i]);
    if (r.rows[0].v !== "x" + i || r.rows[0].n !== i) throw new Error("mismatch " + i);
  }
}));
console.log("200 mixed ops", Date.now() - t1, "ms", (await pools[1].query("select count(*) from t")).rows[0]);
await Promise.all(pools.map(p => p.end()));
await s.stop();

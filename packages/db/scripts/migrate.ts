import { migrate } from "../src/migrate.ts";

// `npm run migrate`: applies pending SQL migrations to DATABASE_URL.
const url = process.env.DATABASE_URL;
if (!url) {
  console.error("DATABASE_URL is not set (npm start applies migrations to its embedded database by itself).");
  process.exit(1);
}
const ran = await migrate(url);
console.log(ran.length ? `Applied ${ran.length} migration(s): ${ran.join(", ")}` : "Database is up to date.");

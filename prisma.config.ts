import { defineConfig } from "prisma/config";

// Prisma 7 reads this for `prisma generate` and, where its schema engine can be
// downloaded, `prisma migrate deploy`. Loopy applies migrations itself with
// `npm run migrate`, so DATABASE_URL is optional here.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost:5432/loopy" },
});

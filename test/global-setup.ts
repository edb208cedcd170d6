import type { TestProject } from "vitest/node";
import { setUpTestServices } from "./services.ts";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string;
    redisPrefix: string;
  }
}

/** One database and one Redis prefix for the whole vitest run (suites use distinct rows and queue names). */
export default async function setup(project: TestProject) {
  // `npm test` sets these up (and removes them) itself; a bare `vitest run` does it here.
  const given = process.env.LOOPY_TEST_DATABASE_URL;
  if (given) {
    project.provide("databaseUrl", given);
    project.provide("redisUrl", process.env.LOOPY_TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
    project.provide("redisPrefix", process.env.LOOPY_TEST_REDIS_PREFIX ?? "loopy-test");
    return;
  }
  const services = await setUpTestServices();
  console.log(`\nTest services: ${services.description}\n`);
  project.provide("databaseUrl", await services.newDatabase());
  project.provide("redisUrl", services.redisUrl);
  project.provide("redisPrefix", services.prefix);
  return () => services.cleanup();
}

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
  const services = await setUpTestServices();
  console.log(`\nTest services: ${services.description}\n`);
  project.provide("databaseUrl", await services.newDatabase());
  project.provide("redisUrl", services.redisUrl);
  project.provide("redisPrefix", services.prefix);
  return () => services.cleanup();
}

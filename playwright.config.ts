import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { defineConfig } from "@playwright/test";

/**
 * e2e against the real app started by `npm start` (built Next.js + worker
 * process), in Debian's Chromium. `npm test` passes a fresh database and Redis
 * prefix; run alone, it uses the embedded default in a temporary LOOPY_HOME.
 */
const port = Number(process.env.E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;
const home = process.env.E2E_LOOPY_HOME ?? mkdtempSync(path.join(tmpdir(), "loopy-e2e-"));
// Workers inherit it: they read the admin's token from there to sign in (e2e/fixtures.ts) and so does the CLI.
process.env.E2E_LOOPY_HOME = home;
const chromium = process.env.CHROMIUM_PATH ?? (existsSync("/usr/bin/chromium") ? "/usr/bin/chromium" : undefined);

export default defineConfig({
  testDir: "e2e",
  // Benchmarks (`npm run bench:diff`) are Playwright files too, but never part of the test suite.
  testMatch: process.env.LOOPY_BENCH ? "**/*.bench.ts" : "**/*.spec.ts",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: process.env.E2E_JSON_REPORT
    ? [["list"], ["json", { outputFile: process.env.E2E_JSON_REPORT }]]
    : [["list"]],
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: chromium,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: "npm start",
    url: `${baseURL}/api/health`,
    timeout: 180_000,
    reuseExistingServer: false,
    stdout: "pipe",
    gracefulShutdown: { signal: "SIGTERM", timeout: 15_000 },
    env: {
      PORT: String(port),
      HOST: "127.0.0.1",
      LOOPY_HOME: home,
      ...(process.env.E2E_DATABASE_URL ? { DATABASE_URL: process.env.E2E_DATABASE_URL } : {}),
      ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
      LOOPY_REDIS_PREFIX: process.env.E2E_REDIS_PREFIX ?? `loopy-e2e-${process.pid}`,
    },
  },
});

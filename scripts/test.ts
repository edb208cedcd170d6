/**
 * `npm test`: the whole suite, on real services.
 *
 *   1. lint and format check (Biome), typecheck every workspace
 *   2. vitest: unit and integration tests (real Postgres, Redis, git, processes)
 *   3. build the web app, then Playwright e2e against `npm start` in Chromium
 *
 * Services: DATABASE_URL / REDIS_URL when set, else the standard local ports,
 * else the embedded default; each suite gets a fresh database and Redis prefix,
 * removed at the end. Prints "Total: N passed, N failed, N skipped" last.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setUpTestServices } from "../test/services.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name: string) => path.join(root, "node_modules", ".bin", name);
const only = process.argv[2]; // "unit" | "e2e" | undefined (everything)
const work = mkdtempSync(path.join(tmpdir(), "loopy-npm-test-"));

/** Runs a step as a child. Async on purpose: the embedded database may live in this process. */
async function step(title: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<boolean> {
  console.log(`\n━━ ${title}\n`);
  const started = Date.now();
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(command, args, {
      cwd: root,
      stdio: "inherit",
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1", TURBO_TELEMETRY_DISABLED: "1", ...env },
    });
    child.on("error", () => resolve(null));
    child.on("exit", (c) => resolve(c));
  });
  console.log(`\n━━ ${title}: ${code === 0 ? "ok" : "FAILED"} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return code === 0;
}

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}
const total: Counts = { passed: 0, failed: 0, skipped: 0 };

function readVitest(file: string): boolean {
  if (!existsSync(file)) return false;
  const report = JSON.parse(readFileSync(file, "utf8")) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
  };
  total.passed += report.numPassedTests;
  total.failed += report.numFailedTests;
  total.skipped += report.numPendingTests + report.numTodoTests;
  return true;
}

function readPlaywright(file: string): boolean {
  if (!existsSync(file)) return false;
  const report = JSON.parse(readFileSync(file, "utf8")) as {
    stats: { expected: number; unexpected: number; skipped: number; flaky: number };
  };
  total.passed += report.stats.expected + report.stats.flaky;
  total.failed += report.stats.unexpected;
  total.skipped += report.stats.skipped;
  return true;
}

const services = await setUpTestServices();
console.log(`Test services: ${services.description}`);
let ok = true;
try {
  if (!only) {
    // Lint and typecheck count as one test each in the total, so a red step is never "0 failed".
    for (const [title, script] of [
      ["lint and format (Biome)", "lint"],
      ["typecheck", "typecheck"],
    ] as const) {
      const passed = await step(title, "npm", ["run", script, "--silent"]);
      ok = passed && ok;
      if (passed) total.passed += 1;
      else total.failed += 1;
    }
  }

  if (!only || only === "unit") {
    const report = path.join(work, "vitest.json");
    ok =
      (await step(
        "unit + integration tests (vitest)",
        bin("vitest"),
        ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`],
        {
          LOOPY_TEST_DATABASE_URL: await services.newDatabase(),
          LOOPY_TEST_REDIS_URL: services.redisUrl,
          LOOPY_TEST_REDIS_PREFIX: `${services.prefix}:unit`,
        },
      )) && ok;
    if (!readVitest(report)) {
      console.error("vitest wrote no report");
      ok = false;
      total.failed += 1;
    }
  }

  if (!only || only === "e2e") {
    ok =
      (await step("build the web app", bin("turbo"), [
        "run",
        "build",
        "--filter=@loopy/web",
        "--output-logs=errors-only",
      ])) && ok;
    const report = path.join(work, "playwright.json");
    ok =
      (await step("end-to-end tests (Playwright, Chromium)", bin("playwright"), ["test"], {
        E2E_JSON_REPORT: report,
        E2E_DATABASE_URL: await services.newDatabase(),
        E2E_LOOPY_HOME: path.join(work, "e2e-home"),
        E2E_REDIS_PREFIX: `${services.prefix}:e2e`,
        REDIS_URL: services.redisUrl,
      })) && ok;
    if (!readPlaywright(report)) {
      console.error("Playwright wrote no report");
      ok = false;
      total.failed += 1;
    }
  }
} finally {
  await services.cleanup();
  rmSync(work, { recursive: true, force: true });
}

console.log(`\nTotal: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(ok && total.failed === 0 ? 0 : 1);

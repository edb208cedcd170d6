import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, type Page } from "@playwright/test";

/** A temporary git repository with one commit on `main`. */
export function makeRepo(files: Record<string, string> = { "README.md": "hello colour world\n" }): string {
  const dir = mkdtempSync(path.join(tmpdir(), "loopy-e2e-repo-"));
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, stdio: "pipe" });
  git("init", "-q", "-b", "main");
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  git("add", "-A");
  git("-c", "user.name=E2E", "-c", "user.email=e2e@example.com", "commit", "-q", "-m", "initial");
  return dir;
}

/** Runs the real `loopy` bin (as `npx loopy` would) against the app under test. */
export function loopy(baseURL: string, ...args: string[]) {
  const result = spawnSync(path.resolve("node_modules/.bin/loopy"), args, {
    env: { ...process.env, LOOPY_URL: baseURL, LOOPY_HOME: process.env.E2E_LOOPY_HOME },
    encoding: "utf8",
    timeout: 60_000,
    // A 1,000-member fleet's --json is over spawnSync's default 1 MB, which kills the CLI.
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * A project whose run changes every line of a `lines`-line file (so its diff has
 * 2 × `lines` changed lines) and one line in the middle of a 40-line file, in a
 * folder. Returns the run's id once it waits for review.
 */
export function largeDiffRun(baseURL: string, lines: number): string {
  const big = `${Array.from({ length: lines }, (_, i) => `export const value${i} = ${i};`).join("\n")}\n`;
  const small = `${Array.from({ length: 40 }, (_, i) => `const v${i + 1} = ${i + 1};`).join("\n")}\n`;
  const repo = makeRepo({ "big.ts": big, "src/app.ts": small });
  const name = `diff-${path.basename(repo)}`;
  const added = loopy(baseURL, "project", "add", repo, "--name", name, "--json");
  if (added.code !== 0) throw new Error(added.stderr);
  const run = loopy(
    baseURL,
    "run",
    "--project",
    name,
    "--agent",
    "command",
    "--command",
    "sed -i 's/= \\([0-9]*\\);/= \\1 + 1;/' big.ts && sed -i 's/^const v20 = 20;/const v20 = 2000;/' src/app.ts",
    "--wait",
    "--json",
  );
  if (run.code !== 0) throw new Error(run.stderr || run.stdout);
  return (JSON.parse(run.stdout) as { id: string }).id;
}

/** Saves an agent profile for Loopy's own agent on a fake model server, through the Agents page. */
export async function addFakeModelProfile(page: Page, name: string, modelUrl: string) {
  await page.goto("/profiles");
  await page.getByLabel("Profile name").fill(name);
  await page.getByLabel("Adapter").selectOption("openai-compatible");
  await page.getByLabel("Model").fill("fake-model");
  await page.getByLabel("Base URL").fill(`${modelUrl}/v1`);
  await page.getByRole("button", { name: "Save profile" }).click();
  await expect(page.getByTestId("profiles-table")).toContainText(name);
}

/** Registers a repository on the Projects page and saves its checkpoints (and attempts) in its settings. */
export async function addProjectWithCheckpoints(
  page: Page,
  repo: string,
  name: string,
  checkpoints: unknown[],
  attempts?: number,
) {
  await page.goto("/projects");
  await page.getByLabel("Repository path").fill(repo);
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Add project" }).click();
  const row = page.getByTestId("projects-table").getByRole("row", { name: new RegExp(name) });
  await row.getByRole("button", { name: "Settings" }).click();
  await page.getByLabel("Checkpoints").fill(JSON.stringify(checkpoints));
  if (attempts !== undefined) await page.getByLabel("Attempts").fill(String(attempts));
  await page.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByText("Saved")).toBeVisible();
}

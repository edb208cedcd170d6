import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { makeRepo } from "./helpers";

test.describe.configure({ mode: "serial" });

const repo = makeRepo();
const projectName = `e2e-${path.basename(repo)}`;

async function launch(page: Page, command: string, options: { timeout?: string; baseRef?: string } = {}) {
  await page.goto("/runs");
  await page.getByLabel("Project").selectOption({ label: projectName });
  await page.getByLabel("Command").fill(command);
  if (options.timeout) await page.getByLabel("Timeout").fill(options.timeout);
  if (options.baseRef !== undefined) await page.getByLabel("Base ref").fill(options.baseRef);
  await page.getByRole("button", { name: "Launch run" }).click();
}

test("register a project: bad paths are explained, a repository shows with its default branch", async ({ page }) => {
  await page.goto("/projects");
  const notARepo = mkdtempSync(path.join(tmpdir(), "loopy-e2e-plain-"));
  await page.getByLabel("Repository path").fill(notARepo);
  await page.getByRole("button", { name: "Add project" }).click();
  await expect(page.getByTestId("error")).toContainText("is not a git repository");

  await page.getByLabel("Repository path").fill(repo);
  await page.getByLabel("Name").fill(projectName);
  await page.getByRole("button", { name: "Add project" }).click();
  const row = page.getByTestId("projects-table").getByRole("row", { name: new RegExp(projectName) });
  await expect(row).toBeVisible();
  await expect(row).toContainText("main");
  await expect(row).toContainText(repo);
});

test("launch a command run: log lines arrive live while it runs, then the diff", async ({ page }) => {
  await launch(
    page,
    "echo first-line; sleep 2; echo second-line; sleep 2; sed -i 's/colour/color/' README.md; echo added > notes.txt; echo done",
  );
  await expect(page).toHaveURL(/\/runs\/[a-z0-9]+$/);
  const status = page.getByTestId("run-status").first();
  const log = page.getByTestId("run-log");

  await expect(log).toContainText("first-line");
  await expect(status).toHaveAttribute("data-status", "running");
  await expect(log).toContainText("second-line");
  // Both lines were pushed while the command was still running.
  await expect(status).toHaveAttribute("data-status", "running");
  await expect(page.getByTestId("log-line").filter({ hasText: /^\S+done$/ })).toHaveCount(0);

  // A command that changed files waits for review.
  await expect(status).toHaveAttribute("data-status", "awaiting_review", { timeout: 20_000 });
  const files = page.getByTestId("diff-files");
  await expect(files).toContainText("README.md");
  await expect(files).toContainText("notes.txt");
  // The tree lists notes.txt before README.md; each file's lines are there, whatever the order.
  await expect(page.getByTestId("diff").locator('[data-kind="del"]')).toContainText("hello colour world");
  await expect(page.getByTestId("diff").locator('[data-kind="add"]', { hasText: "hello color world" })).toBeVisible();
  await page.screenshot({ path: "test-results/run-succeeded.png", fullPage: true });

  // A page opened late replays the whole log from the start.
  await page.reload();
  await expect(page.getByTestId("run-log")).toContainText("first-line");
  await expect(page.getByTestId("run-log")).toContainText("done");
});

test("cancel a run mid-way from the UI", async ({ page }) => {
  await launch(page, "echo waiting-to-be-cancelled; sleep 120; echo never-printed");
  await expect(page.getByTestId("run-log")).toContainText("waiting-to-be-cancelled");
  await page.getByRole("button", { name: "Cancel run" }).click();
  await expect(page.getByTestId("run-status").first()).toHaveAttribute("data-status", "cancelled");
  await expect(page.getByTestId("run-log")).toContainText("cancel requested");
  await expect(page.getByTestId("log-line").filter({ hasText: "never-printed" })).toHaveCount(0);
});

test("a failing command ends failed with its exit code and reason", async ({ page }) => {
  await launch(page, "echo trying; exit 4");
  await expect(page.getByTestId("run-status").first()).toHaveAttribute("data-status", "failed");
  await expect(page.getByTestId("status-reason")).toHaveText("command exited with code 4");
  await expect(page.getByTestId("run-log")).toContainText("trying");
});

test("bad launches are refused with a clear message", async ({ page }) => {
  await launch(page, "   ");
  await expect(page.getByTestId("error")).toContainText("Command is empty");
  await launch(page, "true", { baseRef: "no-such-branch" });
  await expect(page.getByTestId("error")).toContainText('Base ref "no-such-branch" does not exist');
  await expect(page).toHaveURL(/\/runs$/);
});

test("the runs list shows every run and updates live", async ({ page }) => {
  await page.goto("/runs");
  const table = page.getByTestId("runs-table");
  // The succeeded, cancelled and failed runs above; the refused launches left nothing behind.
  await expect(table.locator("tr[data-run-id]").filter({ hasText: projectName })).toHaveCount(3);
  // Launch from a second page; the list in the first page updates by itself.
  const other = await page.context().newPage();
  await launch(other, "sleep 1; echo listed");
  await other.waitForURL(/\/runs\/[a-z0-9]+$/);
  const id = other.url().split("/").pop()!;
  const row = table.locator(`tr[data-run-id="${id}"]`);
  await expect(row).toBeVisible();
  await expect(row.getByTestId("run-status")).toHaveAttribute("data-status", "succeeded", { timeout: 20_000 });
  await expect(row).toContainText(projectName);
  await expect(row).toContainText("command");
  await page.screenshot({ path: "test-results/runs-list.png", fullPage: true });
});

test("health reports database, Redis and worker", async ({ request }) => {
  const response = await request.get("/api/health");
  expect(response.status()).toBe(200);
  expect(await response.json()).toMatchObject({
    ok: true,
    database: { ok: true },
    redis: { ok: true },
    worker: { ok: true },
  });
});

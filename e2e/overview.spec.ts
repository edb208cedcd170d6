import path from "node:path";
import { expect, test } from "./fixtures";
import { loopy, makeRepo } from "./helpers";

test("the overview shows each active agent's live activity, counts by state, and opens a run", async ({
  page,
  baseURL,
}) => {
  const repo = makeRepo();
  const name = `overview-${path.basename(repo)}`;
  expect(loopy(baseURL!, "project", "add", repo, "--name", name, "--json").code).toBe(0);
  const started = loopy(
    baseURL!,
    "run",
    "--project",
    name,
    "--command",
    "for i in $(seq 1 60); do echo tick-$i; sleep 0.25; done; echo ok > done.txt",
    "--json",
  );
  expect(started.code).toBe(0);
  const runId = (JSON.parse(started.stdout) as { id: string }).id;

  await page.goto("/");
  const row = page.locator(`[data-testid="overview-row"][data-run-id="${runId}"]`);
  await expect(row).toHaveAttribute("data-status", "running");
  const activity = row.getByTestId("overview-activity");
  await expect(activity).toContainText(/tick-\d+/);
  const first = await activity.textContent();
  // The line moves on without a reload.
  await expect(activity).not.toHaveText(first ?? "", { timeout: 10_000 });
  expect(Number(await page.getByTestId("count-running").locator("div").first().textContent())).toBeGreaterThanOrEqual(
    1,
  );
  await page.screenshot({ path: "test-results/overview.png", fullPage: true });

  // Filtering by a state keeps only those rows.
  await page.getByTestId("count-queued").click();
  await expect(row).toHaveCount(0);
  await page.getByTestId("count-queued").click();

  // When it waits for review, the row says so (pushed) and the review count follows.
  await expect(row).toHaveAttribute("data-status", "awaiting_review", { timeout: 30_000 });
  await row.click();
  await expect(page).toHaveURL(new RegExp(`/runs/${runId}$`));
});

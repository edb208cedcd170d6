import { expect, test } from "./fixtures";

/**
 * A research loop from the browser on the demo project `npm start` seeds
 * (examples/char-lm): the running experiment's curve moves as step lines are
 * pushed, the progression chart gains points, and clicking a candidate's point
 * shows its diff. Budgets are cut to 8 s (6 s of training) to keep it short.
 */
test("start a loop on the demo target, watch it live, open a point's diff", async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto("/research");
  await page.getByRole("button", { name: "Fill the form with it" }).click();
  await expect(page.getByLabel("Experiment command")).toHaveValue("node train.mjs");
  await page.getByLabel("Budget").fill("8s");
  await page.getByLabel("Max experiments").fill("3");
  await page.getByRole("button", { name: "Start loop" }).click();
  await expect(page).toHaveURL(/\/research\/[a-z0-9]+$/);
  await expect(page.getByTestId("loop-status")).toHaveAttribute("data-status", /queued|running/);

  // The running experiment's curve grows while it trains: points arrive over the stream.
  // (Experiments last ~8 s here, so growth is compared within one experiment.)
  await expect(page.getByTestId("live-curve")).toBeVisible({ timeout: 20_000 });
  const seen = new Map<string, number>();
  await expect
    .poll(
      async () => {
        // One read of the page per sample (no auto-waiting), so a busy machine cannot stretch a sample across experiments.
        const sample = await page.evaluate(() => {
          const box = document.querySelector('[data-testid="running-experiment"]');
          const curve = document.querySelector('[data-testid="live-curve"]');
          return box && curve
            ? { id: box.getAttribute("data-experiment-id"), count: Number(curve.getAttribute("data-points")) }
            : null;
        });
        const id = sample?.id;
        const count = sample?.count ?? 0;
        if (!id || !count) return false;
        const before = seen.get(id);
        seen.set(id, count);
        return before !== undefined && count > before;
      },
      { timeout: 60_000, intervals: [250] },
    )
    .toBe(true);
  await expect(page.getByTestId("log-tail")).toContainText('"step"');

  // The progression chart gains the baseline, then candidates.
  const chart = page.getByTestId("progression-chart");
  await expect(chart.getByTestId("progress-point").first()).toBeVisible({ timeout: 30_000 });
  const candidate = chart.locator('[data-testid="progress-point"][data-kind="candidate"]').first();
  await expect(candidate).toBeVisible({ timeout: 90_000 });
  await page.screenshot({ path: "test-results/research-loop.png", fullPage: true });

  // Clicking a candidate's point opens its diff: the optimizer's parameters.
  const id = await candidate.getAttribute("data-experiment-id");
  // Dispatched on the point itself: neighbouring points and the tooltip may overlap it on screen.
  await candidate.dispatchEvent("click");
  const detail = page.getByTestId("experiment-detail");
  await expect(detail).toHaveAttribute("data-experiment-id", id!);
  await expect(detail.getByTestId("experiment-diff")).toContainText("loopy.params.json");
  // The URL names the experiment, so the same view opens from a link.
  await expect(page).toHaveURL(new RegExp(`\\?experiment=${id}$`));
  await page.reload();
  await expect(page.getByTestId("experiment-detail")).toHaveAttribute("data-experiment-id", id!);
  await expect(page.getByTestId("experiment-detail").getByTestId("experiment-curve")).toBeVisible();

  // The loop ends by itself after three candidates (the baseline and its noise repeats come first).
  await expect(page.getByTestId("loop-status")).toHaveAttribute("data-status", "completed", { timeout: 90_000 });
  await expect(page.getByTestId("loop-count")).toHaveText("3 of 3");
  await expect(page.getByTestId("experiments-table").locator("tbody tr")).toHaveCount(6);
});

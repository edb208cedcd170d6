import { expect, test } from "./fixtures";
import { largeDiffRun } from "./helpers";

/**
 * The diff viewer on a 5,000-line diff: the file tree, rows virtualised (the DOM
 * holds what is on screen, not the diff), the end of the diff reachable by
 * scrolling, split view, collapsed context that expands from the repository,
 * and n/p between files. How fast it opens and scrolls is measured by
 * `npm run bench:diff`, not asserted here.
 */
test("a 5,000-line diff opens virtualised, with a file tree, split view and expandable context", async ({
  page,
  baseURL,
}) => {
  const runId = largeDiffRun(baseURL!, 2_500);
  await page.goto(`/runs/${runId}`);
  const tree = page.getByTestId("diff-files");
  await expect(tree).toContainText("big.ts");
  await expect(tree).toContainText("+2500");
  await expect(tree).toContainText("src/");
  const scroller = page.getByTestId("diff-scroller");
  const rendered = scroller.locator("[data-index]");
  await expect(rendered.first()).toBeVisible();
  expect(await rendered.count()).toBeLessThan(150);

  // Folders come first: src/app.ts, with its unchanged lines 1–16 folded away.
  await expect(page.getByTestId("diff-file").first()).toContainText("src/app.ts");
  await expect(scroller).not.toContainText("const v1 = 1;");
  await page.getByTestId("expand-context").first().click();
  await expect(scroller).toContainText("const v1 = 1;");
  await expect(scroller.locator('[data-kind="add"]').first()).toContainText("const v20 = 2000;");

  // The last line of the diff is reachable, and the DOM stays small.
  await scroller.evaluate((el) => (el.scrollTop = el.scrollHeight));
  await expect(scroller.locator('[data-kind="add"]').last()).toContainText("export const value2499 = 2499 + 1;");
  expect(await rendered.count()).toBeLessThan(150);

  // n and p move between files in the tree's order.
  await scroller.evaluate((el) => (el.scrollTop = 0));
  await expect(tree.locator('[aria-current="true"]')).toContainText("app.ts");
  await page.locator("body").press("n");
  await expect(tree.locator('[aria-current="true"]')).toContainText("big.ts");
  await page.locator("body").press("p");
  await expect(tree.locator('[aria-current="true"]')).toContainText("app.ts");

  // Split view puts the old line beside the new one.
  await page.getByRole("button", { name: "split" }).click();
  const changed = scroller.locator('[data-kind="change"]').first();
  await expect(changed.locator('[data-kind="del"]')).toContainText("const v20 = 20;");
  await expect(changed.locator('[data-kind="add"]')).toContainText("const v20 = 2000;");
  await page.screenshot({ path: "test-results/diff-viewer-split.png" });
});

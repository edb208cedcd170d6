import path from "node:path";
import { adminToken, expect, loopyHome, test } from "./fixtures";
import { addProjectWithCheckpoints, loopy, makeRepo } from "./helpers";

test.describe.configure({ mode: "serial" });

/**
 * Review you can trust: the defects a reviewer hit on the run page, the diff
 * viewer and signing in. Each test failed before its fix.
 */
const middle = `${Array.from({ length: 40 }, (_, i) => `line ${i + 1}`).join("\n")}\n`;
const repo = makeRepo({ "a.txt": "a\n", "b.txt": "b\n", "mid.txt": middle, "run.sh": "echo hi\n" });
const projectName = `defects-${path.basename(repo)}`;

/** A command run on the project, waited for; its id. */
function commandRun(baseURL: string, command: string): string {
  const run = loopy(
    baseURL,
    "run",
    "--project",
    projectName,
    "--agent",
    "command",
    "--command",
    command,
    "--wait",
    "--json",
  );
  if (run.code !== 0 && !run.stdout.includes('"id"')) throw new Error(run.stderr || run.stdout);
  return (JSON.parse(run.stdout) as { id: string }).id;
}

test("a run that needs attention shows the failing checkpoint's output at the top, and says why it cannot be approved", async ({
  page,
  baseURL,
}) => {
  // 30 lines of output, then the failure: the top of the page shows the last 20.
  await addProjectWithCheckpoints(page, repo, projectName, [
    {
      name: "tests",
      kind: "command",
      command:
        "test ! -e broken.txt || { for i in $(seq 1 30); do echo output $i; done; echo 'FAIL: expected 2, got 3'; exit 1; }",
    },
  ]);
  const runId = commandRun(baseURL!, "echo x > broken.txt");
  await page.goto(`/runs/${runId}`);
  await expect(page.getByTestId("run-status").first()).toHaveAttribute("data-status", "needs_attention");
  const failing = page.getByTestId("failing-checkpoint");
  await expect(failing).toHaveCount(1);
  await expect(failing).toContainText("Checkpoint tests failed");
  await expect(failing).toContainText("FAIL: expected 2, got 3");
  await expect(failing).toContainText("output 30");
  await expect(failing).toContainText("output 12");
  await expect(failing).not.toContainText("output 11");
  // At the top: above the run's facts and its log, on screen without scrolling.
  await expect(failing).toBeInViewport();
  expect((await failing.boundingBox())!.y).toBeLessThan((await page.getByTestId("run-log").boundingBox())!.y);

  const approve = page.getByRole("button", { name: /Approve/ });
  await expect(approve).toBeDisabled();
  await expect(approve).toHaveAttribute("title", "Approve is unavailable: checkpoint tests failed");
  await page.locator("body").press("a");
  await expect(page.getByTestId("approve-unavailable")).toHaveText("Approve is unavailable: checkpoint tests failed");
  await expect(page.getByTestId("approve-unavailable")).toBeInViewport();
  await page.screenshot({ path: test.info().outputPath("review-defects-attention.png") });
  loopy(baseURL!, "review", "reject", runId);
});

test("n and p scroll to the next file and highlight it; an empty file and a mode change say so; split view shows each gap once", async ({
  page,
  baseURL,
}) => {
  const runId = commandRun(
    baseURL!,
    "echo aa >> a.txt && echo bb >> b.txt && touch empty.txt && chmod +x run.sh && sed -i 's/^line 20$/line twenty/' mid.txt",
  );
  await page.goto(`/runs/${runId}`);
  const tree = page.getByTestId("diff-files");
  await expect(tree).toContainText("empty.txt");
  const current = tree.locator('[aria-current="true"]');
  await expect(current).toContainText("a.txt");

  // The diff is below the fold and shorter than its box: n must still move, and bring the file into view.
  await page.locator("body").press("n");
  await expect(current).toContainText("b.txt");
  const header = page.locator('[data-current="true"]');
  await expect(header).toContainText("b.txt");
  await expect(header).toBeInViewport();
  await page.locator("body").press("n");
  await expect(current).toContainText("empty.txt");
  await expect(header).toContainText("empty.txt");
  await page.screenshot({ path: test.info().outputPath("review-defects-next-file.png") });
  await page.locator("body").press("p");
  await expect(current).toContainText("b.txt");
  await expect(header).toContainText("b.txt");

  // An empty new file and a file whose only change is its mode are not bare headers.
  const files = page.getByTestId("diff-file");
  await expect(page.getByTestId("diff-file-note")).toHaveText([
    "Empty file",
    "File mode changed from 100644 to 100755",
  ]);
  await expect(files.filter({ hasText: "empty.txt" })).toBeVisible();

  // One "show" row per gap, unified or split: below a.txt and b.txt, above and below mid.txt's change.
  const expanders = page.getByTestId("diff-scroller").getByTestId("expand-context");
  await expect(expanders).toHaveCount(4);
  await page.getByRole("button", { name: "split" }).click();
  await expect(page.getByRole("button", { name: "split" })).toHaveAttribute("aria-pressed", "true");
  await expect(page.getByTestId("diff-scroller").locator('[data-kind="change"]').first()).toBeVisible();
  await expect(expanders).toHaveCount(4);
  await expect(expanders.filter({ hasText: "below" })).toHaveCount(3);
  await page.screenshot({ path: test.info().outputPath("review-defects-split.png") });
  await page.getByRole("button", { name: "unified" }).click();
  loopy(baseURL!, "review", "reject", runId);
});

test("after a reject the next run in the inbox opens; after the last, the inbox", async ({ page, baseURL }) => {
  // The e2e run shares one Loopy: runs earlier specs left waiting would be "next" too. Their specs are done; clear the inbox.
  const waiting = loopy(baseURL!, "review", "list", "--json");
  for (const run of JSON.parse(waiting.stdout) as Array<{ id: string }>) loopy(baseURL!, "review", "reject", run.id);
  const first = commandRun(baseURL!, "echo one >> a.txt");
  const second = commandRun(baseURL!, "echo two >> b.txt");
  await page.goto("/review");
  const rows = page.getByTestId("inbox").locator("tr[data-run-id]");
  await expect(rows).toHaveCount(2);
  const ids = await rows.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run-id")));
  expect(ids).toEqual([first, second]);

  await page.goto(`/runs/${first}`);
  await expect(page.getByTestId("review-bar")).toBeVisible();
  page.once("dialog", (dialog) => void dialog.accept());
  await page.locator("body").press("x");
  // The outcome shows for a moment, then the next run opens.
  await expect(page.getByTestId("leaving")).toContainText(
    `Run rejected. Opening the next run in the inbox (${second})`,
  );
  await expect(page).toHaveURL(new RegExp(`/runs/${second}$`));
  await expect(page.getByRole("heading", { name: `run ${second}` })).toBeVisible();

  page.once("dialog", (dialog) => void dialog.accept());
  await page.getByRole("button", { name: /Reject/ }).click();
  await expect(page).toHaveURL(/\/review$/);
});

test("a sign-in link opened on /login signs in; the hint names this server's password file", async ({
  browser,
  baseURL,
}) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto("/login");
  await expect(page.getByTestId("admin-password-file")).toHaveText(path.join(loopyHome(), "admin-password"));
  const minted = loopy(baseURL!, "sign-in-link", "--json");
  expect(minted.code, minted.stderr).toBe(0);
  const { link } = JSON.parse(minted.stdout) as { link: string };
  // Same page, new fragment: no load event, only hashchange.
  await page.goto(link);
  await expect(page.getByTestId("signed-in-as")).toContainText("admin (admin)");
  await context.close();
});

test("the icon answers 200 without a session", async ({ playwright, baseURL }) => {
  const anonymous = await playwright.request.newContext({ baseURL });
  for (const url of ["/favicon.ico", "/icon.svg"]) {
    const response = await anonymous.get(url, { maxRedirects: 0 });
    expect(response.status(), url).toBe(200);
    expect(response.headers()["content-type"], url).toContain("image/svg+xml");
  }
  await anonymous.dispose();
});

test("a created API token has a copy button and its form is cleared", async ({ page, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await page.goto("/settings/users");
  const name = page.getByLabel("Token name");
  await name.fill("ci pipeline");
  await page.getByRole("button", { name: "Create token" }).click();
  const created = page.getByTestId("new-token");
  await expect(created).toContainText("ci pipeline");
  await expect(name).toHaveValue("");
  const token = await created.locator("code").textContent();
  await created.getByRole("button", { name: "Copy" }).click();
  await expect(created.getByRole("button", { name: "Copied" })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
  expect(token).not.toBe(adminToken());
  await page.screenshot({ path: test.info().outputPath("review-defects-token.png") });
});

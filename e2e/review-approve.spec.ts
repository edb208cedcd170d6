import { execFileSync } from "node:child_process";
import path from "node:path";
import { expect, test } from "./fixtures";
import { startFakeModelServer, type FakeModelServer } from "@loopy/fake-models/server";
import { loopy, makeRepo } from "./helpers";

test.describe.configure({ mode: "serial" });

/**
 * Approving never loses review comments and never merges on one key: with
 * comments not sent, `a` asks whether to send them as a change request or
 * discard them; every merge is confirmed by name (branch, target, strategy),
 * Enter merges and Escape cancels.
 */
let model: FakeModelServer;
const repo = makeRepo({ "README.md": "approve\n" });
const projectName = `approve-${path.basename(repo)}`;
const profileName = `approve-fake-${path.basename(repo).slice(-6).toLowerCase()}`;

test.beforeAll(async ({ baseURL }) => {
  model = await startFakeModelServer();
  expect(loopy(baseURL!, "project", "add", repo, "--name", projectName).code).toBe(0);
  expect(
    loopy(
      baseURL!,
      "profile",
      "add",
      profileName,
      "--adapter",
      "openai-compatible",
      "--model",
      "fake-model",
      "--base-url",
      `${model.url}/v1`,
    ).code,
  ).toBe(0);
});
test.afterAll(async () => {
  await model?.close();
});

/** The run's state from the API (the page may move on to the next run once one is decided). */
const statusOf = (baseURL: string, id: string) =>
  (JSON.parse(loopy(baseURL, "show", id, "--json").stdout) as { status: string }).status;

async function runAwaitingReview(baseURL: string, ...launch: string[]): Promise<string> {
  const run = loopy(baseURL, "run", "--project", projectName, ...launch, "--json");
  expect(run.code, run.stderr).toBe(0);
  const { id } = JSON.parse(run.stdout) as { id: string };
  await expect.poll(() => statusOf(baseURL, id), { timeout: 90_000 }).toBe("awaiting_review");
  return id;
}

test("a with a comment not sent asks first; Escape cancels; discarding it then Enter merges", async ({
  page,
  baseURL,
}) => {
  test.setTimeout(180_000);
  const id = await runAwaitingReview(baseURL!, "--agent", "command", "--command", "printf 'a\\nb\\n' > notes.txt");
  const added = loopy(baseURL!, "review", "comment", id, "--file", "notes.txt", "--line", "2", "--message", "Why b?");
  expect(added.code, added.stderr).toBe(0);

  await page.goto(`/runs/${id}`);
  const status = page.getByTestId("run-status").first();
  await expect(status).toHaveAttribute("data-status", "awaiting_review");
  await expect(page.getByTestId("review-comment")).toHaveAttribute("data-status", "pending");

  await page.locator("body").press("a");
  const ask = page.getByTestId("pending-comments-dialog");
  await expect(ask).toBeVisible();
  await expect(ask.getByRole("heading")).toHaveText("1 comment not sent yet");
  await expect(ask.getByRole("button", { name: "Send it as a change request" })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(ask).toBeHidden();
  await expect(status).toHaveAttribute("data-status", "awaiting_review");

  await page.locator("body").press("a");
  await page.getByRole("button", { name: "Discard it and approve" }).click();
  const confirm = page.getByTestId("merge-confirm");
  await expect(confirm.getByRole("heading")).toHaveText(`Merge loopy/run-${id} into main (merge commit)?`);
  await expect(confirm).toContainText("1 comment not sent will be discarded");
  // Keys other than Enter and Escape do nothing while it asks (x would reject).
  await page.keyboard.press("x");
  await expect(status).toHaveAttribute("data-status", "awaiting_review");
  await page.screenshot({ path: "test-results/review-merge-confirm.png" });
  await page.keyboard.press("Enter");
  await expect.poll(() => statusOf(baseURL!, id)).toBe("merged");
  expect(execFileSync("git", ["show", "main:notes.txt"], { cwd: repo }).toString()).toBe("a\nb\n");
  const comments = JSON.parse(loopy(baseURL!, "review", "comments", id, "--json").stdout) as Array<{ status: string }>;
  expect(comments.map((c) => c.status)).toEqual(["discarded"]);
});

test("sending the comment as a change request reaches the agent; then a, Escape keeps it, a, Enter merges", async ({
  page,
  baseURL,
}) => {
  test.setTimeout(180_000);
  const id = await runAwaitingReview(
    baseURL!,
    "--agent",
    profileName,
    "--prompt",
    "Add a greeting.\n@write greeting.txt: hello\\nworld",
  );
  expect(
    loopy(
      baseURL!,
      "review",
      "comment",
      id,
      "--file",
      "greeting.txt",
      "--line",
      "2",
      "--message",
      "Greet loopy.\n@write greeting.txt: hello\\nloopy",
    ).code,
  ).toBe(0);

  await page.goto(`/runs/${id}`);
  const status = page.getByTestId("run-status").first();
  await expect(page.getByTestId("review-comment")).toHaveAttribute("data-status", "pending");
  await page.locator("body").press("a");
  await page
    .getByTestId("pending-comments-dialog")
    .getByRole("button", { name: "Send it as a change request" })
    .click();
  await expect(page.getByTestId("turn")).toHaveCount(2, { timeout: 30_000 });
  await expect(status).toHaveAttribute("data-status", "awaiting_review", { timeout: 30_000 });
  await expect(page.getByTestId("review-comment")).toHaveAttribute("data-status", "resolved");

  // Nothing pending now: a goes straight to the merge's confirmation.
  await page.locator("body").press("a");
  const confirm = page.getByTestId("merge-confirm");
  await expect(confirm.getByRole("heading")).toHaveText(`Merge loopy/run-${id} into main (merge commit)?`);
  await expect(page.getByTestId("pending-comments-dialog")).toHaveCount(0);
  await page.keyboard.press("Escape");
  await expect(confirm).toBeHidden();
  await expect(status).toHaveAttribute("data-status", "awaiting_review");
  await page.locator("body").press("a");
  await expect(confirm).toBeVisible();
  await page.keyboard.press("Enter");
  await expect.poll(() => statusOf(baseURL!, id)).toBe("merged");
  expect(execFileSync("git", ["show", "main:greeting.txt"], { cwd: repo }).toString()).toBe("hello\nloopy\n");
});

import { execFileSync } from "node:child_process";
import path from "node:path";
import { expect, test } from "./fixtures";
import { startFakeModelServer, type FakeModelServer } from "@loopy/fake-models/server";
import { addFakeModelProfile, addProjectWithCheckpoints, makeRepo } from "./helpers";

test.describe.configure({ mode: "serial" });

/**
 * The review loop in the browser, with Loopy's own agent talking to a fake
 * model server (real AI SDK client, fake wire): the run reaches the inbox, a
 * reviewer comments on a line and requests changes, the agent's second turn
 * addresses it, the reviewer approves with the keyboard, and the default
 * branch has the change.
 */
let model: FakeModelServer;
const repo = makeRepo({ "README.md": "project\n" });
const projectName = `review-${path.basename(repo)}`;
const profileName = `fake-${path.basename(repo).slice(-6).toLowerCase()}`;

test.beforeAll(async () => {
  model = await startFakeModelServer();
});
test.afterAll(async () => {
  await model?.close();
});

test("set up: a profile for the fake model and a project with a checkpoint", async ({ page }) => {
  await addFakeModelProfile(page, profileName, model.url);
  await addProjectWithCheckpoints(page, repo, projectName, [
    { name: "greeting-exists", kind: "command", command: "test -s greeting.txt" },
  ]);
});

test("an agent run reaches the inbox; a comment goes back to the agent; keyboard approval merges it", async ({
  page,
}) => {
  await page.goto("/runs");
  await page.getByLabel("Project").selectOption({ label: projectName });
  await page.getByLabel("Agent").selectOption(profileName);
  await page
    .getByLabel("Prompt")
    .fill("Add a greeting file.\n@write greeting.txt: hello\\nworld\n@say Added greeting.txt");
  await page.getByRole("button", { name: "Launch run" }).click();
  await expect(page).toHaveURL(/\/runs\/[a-z0-9]+$/);
  const runUrl = page.url();
  const status = page.getByTestId("run-status").first();
  await expect(status).toHaveAttribute("data-status", "awaiting_review", { timeout: 30_000 });
  await expect(page.getByTestId("checkpoint-result").first()).toHaveAttribute("data-passed", "true");
  await expect(page.getByTestId("run-log")).toContainText("Added greeting.txt");

  // The inbox lists it, with a count in the navigation.
  await page.goto("/review");
  await expect(page.getByTestId("inbox")).toContainText(projectName);
  await expect(page.getByTestId("inbox-count")).toBeVisible();
  const runId = runUrl.split("/").pop()!;
  await page.getByTestId("inbox").locator(`tr[data-run-id="${runId}"] a`).click();
  await expect(page).toHaveURL(runUrl);

  // An inline comment on line 2, then "r" to request changes with a summary.
  await page.getByTestId("line-greeting.txt:2").click();
  await page.getByLabel("Comment").fill("Greet Loopy, not the world.\n@write greeting.txt: hello\\nloopy");
  await page.getByRole("button", { name: "Add comment" }).click();
  await expect(page.getByTestId("review-comment")).toHaveAttribute("data-status", "pending");
  await page.locator("body").press("r");
  await page.getByLabel("Summary for the agent").fill("One small change.");
  await page.getByRole("button", { name: "Send to the agent" }).click();

  // The second turn addresses it: new diff, comment resolved, back in review.
  await expect(page.getByTestId("turn")).toHaveCount(2, { timeout: 30_000 });
  await expect(status).toHaveAttribute("data-status", "awaiting_review", { timeout: 30_000 });
  await expect(page.getByTestId("diff")).toContainText("loopy");
  await expect(page.getByTestId("review-comment")).toHaveAttribute("data-status", "resolved");
  await page.screenshot({ path: "test-results/review-second-turn.png", fullPage: true });

  // "?" shows the keys; "a" asks to confirm the merge by name, Enter merges.
  await page.locator("body").press("?");
  await expect(page.getByRole("dialog", { name: "Keyboard shortcuts" })).toBeVisible();
  await page.locator("body").press("Escape");
  await page.locator("body").press("a");
  await expect(page.getByTestId("merge-confirm").getByRole("heading")).toHaveText(
    `Merge loopy/run-${runId} into main (merge commit)?`,
  );
  await page.keyboard.press("Enter");
  await expect(status).toHaveAttribute("data-status", "merged");
  expect(execFileSync("git", ["show", "main:greeting.txt"], { cwd: repo }).toString()).toBe("hello\nloopy\n");
});

test("approving is refused when checks fail, with the reason shown", async ({ page }) => {
  await page.goto("/runs");
  await page.getByLabel("Project").selectOption({ label: projectName });
  await page.getByLabel("Agent").selectOption("command");
  // The command changes a file but leaves greeting.txt empty: the checkpoint fails.
  await page.getByLabel("Command").fill(": > greeting.txt; echo x > other.txt");
  await page.getByRole("button", { name: "Launch run" }).click();
  const status = page.getByTestId("run-status").first();
  await expect(status).toHaveAttribute("data-status", "needs_attention", { timeout: 30_000 });
  await expect(page.getByTestId("status-reason")).toHaveText("Checkpoint greeting-exists failed");
  await expect(page.getByTestId("checkpoint-result").first()).toHaveAttribute("data-passed", "false");
  await expect(page.getByRole("button", { name: /Approve/ })).toBeDisabled();
  page.once("dialog", (dialog) => void dialog.accept());
  await page.getByRole("button", { name: /Reject/ }).click();
  await expect(status).toHaveAttribute("data-status", "rejected");
});

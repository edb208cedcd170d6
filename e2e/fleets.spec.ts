import { execFileSync } from "node:child_process";
import path from "node:path";
import { expect, test } from "./fixtures";
import { startFakeModelServer, type FakeModelServer } from "@loopy/fake-models/server";
import { addFakeModelProfile, addProjectWithCheckpoints, makeRepo } from "./helpers";

test.describe.configure({ mode: "serial" });

/**
 * A best-of-3 from the browser with Loopy's agent on a fake model server: every
 * member writes the same file, but the project's checkpoint fails for member 1
 * (it reads LOOPY_MEMBER_INDEX), so the ranking puts the two green members
 * first; one click approves the winner, merges it and rejects the rest.
 */
let model: FakeModelServer;
const repo = makeRepo({ "README.md": "fleet\n" });
const projectName = `fleet-${path.basename(repo)}`;
const profileName = `fleet-fake-${path.basename(repo).slice(-6).toLowerCase()}`;

test.beforeAll(async () => {
  model = await startFakeModelServer();
});
test.afterAll(async () => {
  await model?.close();
});

test("best of 3: one member fails its checks, the ranking shows it, approving the winner merges it", async ({
  page,
}) => {
  test.setTimeout(120_000);
  await addFakeModelProfile(page, profileName, model.url);
  await addProjectWithCheckpoints(
    page,
    repo,
    projectName,
    [{ name: "member-ok", kind: "command", command: 'test "$LOOPY_MEMBER_INDEX" != 1' }],
    1,
  );

  await page.goto("/fleets");
  await page.getByLabel("Project").selectOption({ label: projectName });
  await page.getByLabel("Agent command").uncheck();
  await page.getByLabel(`Agent ${profileName}`).check();
  await page.getByLabel("Members", { exact: true }).fill("3");
  await page
    .getByLabel("Fleet task")
    .fill("Add a greeting.\n@write greeting.txt: hello fleet\n@say Added greeting.txt");
  await page.getByRole("button", { name: "Launch fleet" }).click();
  await expect(page).toHaveURL(/\/fleets\/[a-z0-9]+$/);

  // Every member settles; the ranking puts the failing member last.
  await expect(page.getByTestId("fleet-progress")).toHaveAttribute("data-finished", "3", { timeout: 60_000 });
  const members = page.getByTestId("fleet-member");
  await expect(members).toHaveCount(3);
  await expect(members.nth(0)).toHaveAttribute("data-rank", "1");
  await expect(members.nth(2)).toHaveAttribute("data-rank", "3");
  await expect(members.nth(2).getByTestId("run-status")).toHaveAttribute("data-status", "needs_attention");
  await expect(members.nth(2)).toContainText("✗member-ok");
  await expect(page.getByTestId("member-diff").first()).toContainText("greeting.txt");
  await page.screenshot({ path: "test-results/fleet-ranked.png", fullPage: true });

  // Approve, after a confirmation naming the member, the target and the members rejected:
  // the winner is merged, the others rejected, and the fleet says where it went.
  const [winner, second, last] = await Promise.all([0, 1, 2].map((i) => members.nth(i).getAttribute("data-run-id")));
  const statusOf = (runId: string | null | undefined) =>
    page.locator(`[data-testid="fleet-member"][data-run-id="${runId}"]`).getByTestId("run-status");
  const winnerIndex = await members.nth(0).locator("td").nth(1).textContent();
  await page.getByTestId("approve-winner").click();
  const confirm = page.getByTestId("approve-winner-confirm");
  await expect(confirm.getByRole("heading")).toHaveText(`Merge member #${winnerIndex} (${winner}) into main?`);
  await expect(confirm).toContainText("The other 2 members waiting for review will be rejected.");
  await page.keyboard.press("Escape");
  await expect(confirm).toBeHidden();
  await expect(statusOf(winner)).toHaveAttribute("data-status", "awaiting_review");
  await page.getByTestId("approve-winner").click();
  await page.getByTestId("confirm-approve-winner").click();
  await expect(statusOf(winner)).toHaveAttribute("data-status", "merged", { timeout: 20_000 });
  await expect(statusOf(second)).toHaveAttribute("data-status", "rejected");
  await expect(statusOf(last)).toHaveAttribute("data-status", "rejected");
  expect(execFileSync("git", ["show", "main:greeting.txt"], { cwd: repo }).toString()).toBe("hello fleet\n");
  const main = execFileSync("git", ["rev-parse", "main"], { cwd: repo }).toString().trim();
  await expect(page.getByTestId("fleet-merged")).toHaveText(`#${winnerIndex} merged as ${main.slice(0, 8)} into main`);
  await expect(page.getByTestId("approve-winner")).toHaveCount(0);
});

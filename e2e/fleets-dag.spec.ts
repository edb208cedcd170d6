import path from "node:path";
import { expect, test } from "./fixtures";
import { loopy, makeRepo } from "./helpers";

test("decompose a task: draw the plan, launch it, and watch subtasks start as their dependencies are approved", async ({
  page,
  baseURL,
}) => {
  const repo = makeRepo();
  const name = `dag-${path.basename(repo)}`;
  expect(loopy(baseURL!, "project", "add", repo, "--name", name, "--json").code).toBe(0);

  await page.goto("/fleets");
  await page.getByRole("group", { name: "Fleet kind" }).getByRole("button", { name: "Decompose" }).click();
  await page.getByLabel("Project").selectOption({ label: name });
  const plan = {
    subtasks: [
      { key: "schema", title: "tables", command: "echo schema > schema.txt" },
      { key: "api", title: "endpoints", command: "test -f schema.txt && echo api > api.txt", dependsOn: ["schema"] },
      { key: "docs", title: "readme", command: "echo docs > docs.txt" },
    ],
  };
  // A cycle is drawn as text, not launched.
  await page.getByLabel("Plan JSON").fill("{ not json");
  await expect(page.getByText(/Not JSON/)).toBeVisible();
  await page.getByLabel("Plan JSON").fill(JSON.stringify(plan, null, 2));
  await expect(page.getByTestId("dag-node")).toHaveCount(3);
  await page.getByRole("button", { name: "Launch plan" }).click();

  await expect(page).toHaveURL(/\/fleets\/[a-z0-9]+$/);
  const node = (label: string) => page.locator(`[data-testid="dag-node"][data-label^="${label}"]`);
  await expect(node("schema")).toHaveAttribute("data-status", "awaiting_review", { timeout: 20_000 });
  await expect(node("docs")).toHaveAttribute("data-status", "awaiting_review");
  // Waiting for its dependency's approval.
  await expect(node("api")).toHaveAttribute("data-status", "queued");
  await page.screenshot({ path: "test-results/fleet-dag.png", fullPage: true });

  const members = (await page
    .getByTestId("fleet-member")
    .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run-id")))) as string[];
  expect(loopy(baseURL!, "review", "approve", members[0]!).code).toBe(0);
  // Pushed: the dependent starts and reaches review without a reload; its start held the approved work.
  await expect(node("api")).toHaveAttribute("data-status", "awaiting_review", { timeout: 20_000 });
  await expect(node("schema")).toHaveAttribute("data-status", "merged");
});

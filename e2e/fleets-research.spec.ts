import path from "node:path";
import { expect, test } from "./fixtures";
import { loopy, makeRepo } from "./helpers";

const EXPERIMENT = `
import { readFileSync } from "node:fs";
const p = JSON.parse(readFileSync("loopy.params.json", "utf8"));
console.log(JSON.stringify({ step: 1, loss: p.x }));
console.log("---");
console.log("score: " + ((p.x - 0.3) ** 2).toFixed(6));
`;

test("a research fleet: several loops with their own seeds and proposers, ranked by their best metric", async ({
  page,
  baseURL,
}) => {
  // 3 loops × 5 experiments, each a sandboxed process: on a loaded 2-core machine this took just over a minute.
  test.setTimeout(150_000);
  const repo = makeRepo({ "exp.mjs": EXPERIMENT, "loopy.params.json": '{ "x": 0.9 }\n' });
  const name = `rfleet-${path.basename(repo)}`;
  expect(loopy(baseURL!, "project", "add", repo, "--name", name, "--json").code).toBe(0);

  await page.goto("/fleets");
  await page.getByRole("group", { name: "Fleet kind" }).getByRole("button", { name: "Research" }).click();
  await page.getByLabel("Project").selectOption({ label: name });
  await page.getByLabel("Loops").fill("3");
  await page.getByLabel("Concurrency").fill("2");
  await page.getByLabel("Experiment budget").fill("5s");
  await page.getByLabel("Experiments per loop").fill("2");
  await page.getByLabel("Experiment command").fill("node exp.mjs");
  await page.getByLabel("Research metric").fill("score");
  await page.getByLabel("Search space").fill('{"x": {"type": "float", "low": 0, "high": 1}}');
  await page.getByRole("button", { name: "Launch research fleet" }).click();

  await expect(page).toHaveURL(/\/fleets\/[a-z0-9]+$/);
  const rows = page.getByTestId("research-member");
  await expect(rows).toHaveCount(3);
  await expect(page.getByTestId("fleet-status")).toHaveAttribute("data-status", "completed", { timeout: 120_000 });
  await expect(rows.first()).toHaveAttribute("data-rank", "1");
  await expect(page.getByTestId("research-members")).toContainText("tpe");
  await expect(page.getByTestId("research-members")).toContainText("random");
  await page.screenshot({ path: "test-results/fleet-research.png", fullPage: true });
  // A loop opens on its own page.
  await rows.first().getByRole("link").click();
  await expect(page).toHaveURL(/\/research\/[a-z0-9]+/);
});

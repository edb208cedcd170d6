import path from "node:path";
import { adminPassword, expect, test } from "./fixtures";
import { makeRepo } from "./helpers";

test.describe.configure({ mode: "serial" });

const viewer = `viewer-${Date.now().toString(36)}`;

test("a browser without a session is sent to sign in, and comes back where it was going", async ({
  browser,
  baseURL,
}) => {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  await page.goto("/review");
  await expect(page).toHaveURL(/\/login\?next=%2Freview$/);
  // The API itself refuses an anonymous caller, whatever the pages do.
  const api = await context.request.get("/api/trpc/projects.list");
  expect(api.status()).toBe(401);

  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("error")).toContainText("Wrong user name or password");

  await page.getByLabel("Password").fill(adminPassword());
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/review$/);
  await expect(page.getByTestId("signed-in-as")).toContainText("admin (admin)");
  const cookies = await context.cookies();
  expect(cookies.find((c) => c.name === "loopy_session")).toMatchObject({ httpOnly: true, sameSite: "Lax" });
  await context.close();
});

test("an admin adds a viewer, who can read but not launch, and the audit log says who did what", async ({
  page,
  browser,
  baseURL,
}) => {
  await page.goto("/settings/users");
  await page.getByLabel("New user name").fill(viewer);
  await page.getByLabel("New user role").selectOption("viewer");
  await page.getByLabel("New user password").fill("viewer-password-1");
  await page.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByTestId("users-table")).toContainText(viewer);

  const repo = makeRepo();
  const name = `auth-${path.basename(repo)}`;
  await page.goto("/projects");
  await page.getByLabel("Repository path").fill(repo);
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Add project" }).click();
  await expect(page.getByTestId("projects-table")).toContainText(name);

  const context = await browser.newContext({ baseURL });
  const viewerPage = await context.newPage();
  await viewerPage.goto("/login");
  await viewerPage.getByLabel("User name").fill(viewer);
  await viewerPage.getByLabel("Password").fill("viewer-password-1");
  await viewerPage.getByRole("button", { name: "Sign in" }).click();
  await expect(viewerPage.getByTestId("signed-in-as")).toContainText(`${viewer} (viewer)`);
  await viewerPage.goto("/runs");
  await viewerPage.getByLabel("Project").selectOption({ label: name });
  await viewerPage.getByLabel("Command").fill("echo hi > hi.txt");
  await viewerPage.getByRole("button", { name: "Launch run" }).click();
  await expect(viewerPage.getByTestId("error")).toContainText(`This needs the operator role; ${viewer} has viewer`);
  await context.close();

  await page.goto("/settings/audit");
  await page.getByLabel("Filter by actor").fill("admin");
  const table = page.getByTestId("audit-table");
  await expect(table).toContainText("auth.createUser");
  await expect(table).toContainText("projects.add");
  await expect(table).not.toContainText("viewer-password-1");
  await page.getByLabel("Filter by action").fill("projects.");
  await expect(table).not.toContainText("auth.createUser");
  await page.screenshot({ path: "test-results/audit-log.png", fullPage: true });
});

test("an admin stores a secret in the browser: its name is listed, its value never comes back, and deleting it is audited", async ({
  page,
}) => {
  const name = `E2E_KEY_${Date.now().toString(36).toUpperCase()}`;
  const value = `sk-e2e-${Date.now()}-do-not-show`;
  await page.goto("/settings/secrets");
  await page.getByLabel("Secret name").fill("lower-case");
  await page.getByLabel("Secret value").fill("x");
  await page.getByRole("button", { name: "Save secret" }).click();
  await expect(page.getByTestId("error")).toContainText("is not a secret name");

  await page.getByLabel("Secret name").fill(name);
  await page.getByLabel("Secret value").fill(value);
  const listed = page.waitForResponse((r) => r.url().includes("secrets.list") && r.request().method() === "GET");
  await page.getByRole("button", { name: "Save secret" }).click();
  await expect(page.getByTestId("secrets-table")).toContainText(name);
  await expect(page.getByLabel("Secret value")).toHaveValue("");
  expect(await (await listed).text()).not.toContain(value);
  await page.reload();
  await expect(page.getByTestId("secrets-table")).toContainText(name);
  expect(await page.content()).not.toContain(value);

  page.once("dialog", (dialog) => dialog.accept());
  await page
    .getByRole("row", { name: new RegExp(name) })
    .getByRole("button", { name: "Delete" })
    .click();
  await expect(page.getByTestId("secrets-table")).not.toContainText(name);
  await page.goto("/settings/audit");
  await expect(page.getByText("secrets.delete").first()).toBeVisible();
});

import { request as httpRequest } from "node:http";
import { randomBytes } from "node:crypto";
import { adminToken, expect, test } from "./fixtures";
import { loopy } from "./helpers";

test.describe.configure({ mode: "serial" });

/**
 * The security review's fixes against the real `npm start` (Next.js behind apps/web/src/server.ts):
 * the sign-in limit counts the socket's address whatever X-Forwarded-For says, big bodies are refused
 * before they are read, the sign-in link is one-time, and the unconfined-agents banner.
 */

test("a forged X-Forwarded-For per attempt does not get past the per-address sign-in limit", async ({
  playwright,
  baseURL,
}) => {
  const api = await playwright.request.newContext({ baseURL });
  const attempt = (i: number) =>
    api.post("/api/auth/login", {
      data: { name: `nobody-${randomBytes(3).toString("hex")}`, password: "wrong password" },
      headers: { "x-forwarded-for": `203.0.113.${i}` },
    });
  for (let i = 0; i < 5; i++) expect((await attempt(i)).status()).toBe(401);
  expect((await attempt(99)).status()).toBe(429);
  // Let the other specs sign in from this address again: wait out the 1 s, then a success resets it.
  await new Promise((r) => setTimeout(r, 1_500));
  expect((await api.post("/api/auth/login", { data: { token: adminToken() } })).status()).toBe(200);
  await api.dispose();
});

test("a 60 MB body is refused from its Content-Length, before it is read", async ({ baseURL }) => {
  const started = Date.now();
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${baseURL}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": String(60 * 1024 * 1024) },
    });
    req.on("response", (res) => {
      res.resume();
      req.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.write(Buffer.alloc(64 * 1024, "a"));
  });
  expect(status).toBe(413);
  expect(Date.now() - started).toBeLessThan(5_000);
});

test("the one-time sign-in link signs a browser in once", async ({ browser, baseURL }) => {
  const minted = loopy(baseURL!, "sign-in-link", "--json");
  expect(minted.code, minted.stderr).toBe(0);
  const { link } = JSON.parse(minted.stdout) as { link: string };
  expect(link).toMatch(/\/login#code=loopy_sic_/);

  const first = await browser.newContext();
  const page = await first.newPage();
  await page.goto(link);
  await expect(page.getByTestId("signed-in-as")).toContainText("admin (admin)");
  await first.close();

  const second = await browser.newContext();
  const again = await second.newPage();
  await again.goto(link);
  await expect(again.getByTestId("error")).toContainText("used already or has expired");
  await second.close();
});

test("a red banner on every page while a worker runs agents unconfined", async ({ page, request }) => {
  // The real state first: this machine's worker may or may not have a working bubblewrap.
  const real = await request.get("/api/trpc/agents.sandbox", { headers: { authorization: `Bearer ${adminToken()}` } });
  const workers = ((await real.json()) as { result: { data: { json: Array<{ confined: boolean }> } } }).result.data
    .json;
  expect(workers.length).toBeGreaterThan(0);
  await page.goto("/runs");
  await expect(page.getByRole("heading").first()).toBeVisible();
  if (workers.every((w) => w.confined)) await expect(page.getByTestId("sandbox-banner")).toHaveCount(0);
  else await expect(page.getByTestId("sandbox-banner")).toContainText("Agents run unconfined");

  // Then as the web shows a worker without bubblewrap and one with LOOPY_SANDBOX=off (the API's answer replaced).
  await page.route(/\/api\/trpc\/[^?]*agents\.sandbox/, async (route) => {
    const response = await route.fetch();
    const paths = decodeURIComponent(new URL(route.request().url()).pathname.split("/").pop()!).split(",");
    const body = (await response.json()) as Array<unknown>;
    body[paths.indexOf("agents.sandbox")] = {
      result: {
        data: {
          json: [
            {
              host: "gpu-box",
              pid: 11,
              mode: "auto",
              confined: false,
              reason: "bubblewrap is not installed (apt-get install bubblewrap)",
            },
            {
              host: "gpu-box",
              pid: 12,
              mode: "auto",
              confined: false,
              reason: "bubblewrap is not installed (apt-get install bubblewrap)",
            },
            { host: "laptop", pid: 13, mode: "off", confined: false, reason: "sandbox off" },
            { host: "ci", pid: 14, mode: "auto", confined: true, reason: null },
          ],
        },
      },
    };
    await route.fulfill({ response, json: body });
  });
  for (const path of ["/", "/review"]) {
    await page.goto(path);
    const banner = page.getByTestId("sandbox-banner");
    await expect(banner).toContainText(
      "Agents run unconfined: bubblewrap is not available on worker gpu-box (bubblewrap is not installed (apt-get install bubblewrap))",
    );
    await expect(banner).toContainText("Agents run unconfined: sandbox off on worker laptop (LOOPY_SANDBOX=off)");
    await expect(banner.locator("p")).toHaveCount(2);
  }
});

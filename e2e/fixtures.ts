import { readFileSync } from "node:fs";
import path from "node:path";
import { test as base, expect } from "@playwright/test";

/** The LOOPY_HOME of the app under test (playwright.config.ts sets it), where npm start keeps the admin's token and password. */
export function loopyHome(): string {
  const home = process.env.E2E_LOOPY_HOME;
  if (!home) throw new Error("E2E_LOOPY_HOME is not set (playwright.config.ts sets it)");
  return home;
}

export const adminToken = () => readFileSync(path.join(loopyHome(), "token"), "utf8").trim();
export const adminPassword = () => readFileSync(path.join(loopyHome(), "admin-password"), "utf8").trim();

/**
 * Every spec's browser starts signed in as the local admin: the admin's API
 * token (the token file npm start writes) exchanged for a session cookie.
 * Specs about signing in use `browser.newContext()` instead.
 */
export const test = base.extend({
  context: async ({ context, baseURL }, use) => {
    const response = await context.request.post(`${baseURL}/api/auth/login`, { data: { token: adminToken() } });
    if (!response.ok())
      throw new Error(`signing the e2e browser in failed: ${response.status()} ${await response.text()}`);
    await use(context);
  },
});

export { expect };

import { stat, readFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { TRPCError } from "@trpc/server";
import { appRouter } from "@loopy/api";
import { actorOfRequest, CSRF_HEADER, SESSION_COOKIE } from "@loopy/api/http-auth";
import {
  actorFromSession,
  actorFromToken,
  bootstrapAuth,
  createApiToken,
  createUser,
  signInWithPassword,
  signInWithToken,
  updateUser,
} from "@loopy/core/access";
import { ROLES, type Actor, type Role } from "@loopy/core/access/roles";
import { createDb } from "@loopy/db/client";
import { createTestDatabase } from "@loopy/db/test-database";
import { createHarness, makeRepo, type Harness } from "./harness.ts";

type AnyProcedure = { _def: { type: "query" | "mutation" | "subscription"; meta?: { role?: Role } } };
// At run time `_def.procedures` is flat: "runs.launch" → procedure.
const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, AnyProcedure>);

const unique = (base: string) => `${base}-${randomBytes(3).toString("hex")}`;
const actorOf = (role: Role, via: Actor["via"] = "token"): Actor => ({ userId: null, name: `a-${role}`, role, via });

async function call(h: Harness, actor: Actor | null, path: string, input: unknown, csrfValid = true) {
  const caller = h.apiAs(actor, csrfValid) as unknown as Record<string, unknown>;
  const fn = path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller) as (
    input: unknown,
  ) => Promise<unknown>;
  const result = await fn(input);
  // A subscription that was let through: stop it again.
  if (result && typeof result === "object" && Symbol.asyncIterator in result)
    await (result as AsyncIterable<unknown>)[Symbol.asyncIterator]().return?.();
  return result;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "OK";
  } catch (error) {
    return error instanceof TRPCError ? error.code : `not a TRPCError: ${String(error)}`;
  }
}

describe("every procedure checks the caller's role", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("declares a role on every procedure, and the role map is deliberate", () => {
    expect(procedures.length).toBeGreaterThan(50);
    const missing = procedures.filter(([, p]) => !p._def.meta?.role).map(([path]) => path);
    expect(missing).toEqual([]);
    const byRole = Object.fromEntries(
      ROLES.map((r) => [
        r,
        procedures
          .filter(([, p]) => p._def.meta?.role === r)
          .map(([path]) => path)
          .sort(),
      ]),
    );
    // Every read is open to viewers; the writes below are where a change must be on purpose.
    for (const [path, p] of procedures)
      if (
        p._def.type !== "mutation" &&
        !path.startsWith("auth.users") &&
        !path.startsWith("auth.tokens") &&
        !path.startsWith("secrets.")
      )
        expect(p._def.meta?.role, path).toBe("viewer");
    expect(byRole.reviewer).toEqual(
      expect.arrayContaining([
        "review.addComment",
        "review.approve",
        "review.reject",
        "review.requestChanges",
        "fleets.approveWinner",
      ]),
    );
    expect(byRole.operator).toEqual(
      expect.arrayContaining([
        "runs.launch",
        "runs.cancel",
        "fleets.launch",
        "fleets.cancel",
        "research.create",
        "research.cancel",
      ]),
    );
    expect(byRole.admin).toEqual(
      expect.arrayContaining([
        "projects.add",
        "projects.update",
        "profiles.add",
        "auth.createUser",
        "auth.updateUser",
        "auth.createToken",
        "auth.revokeToken",
        "auth.users",
        "auth.tokens",
      ]),
    );
  });

  it("refuses an anonymous caller on every procedure, before reading its input", async () => {
    for (const [path] of procedures) {
      expect(`${path}: ${await codeOf(call(h, null, path, { garbage: true }))}`).toBe(`${path}: UNAUTHORIZED`);
    }
  });

  it("refuses a caller one role too small on every procedure, and lets the right role past the gate", async () => {
    for (const [path, p] of procedures) {
      const needed = p._def.meta!.role!;
      const below = ROLES[ROLES.indexOf(needed) - 1];
      if (below) expect(`${path}: ${await codeOf(call(h, actorOf(below), path, {}))}`).toBe(`${path}: FORBIDDEN`);
      // With its role the call passes the gate: whatever happens next is about the input, not the role.
      const code = await codeOf(call(h, actorOf(needed), path, {}));
      expect([`${path}: UNAUTHORIZED`, `${path}: FORBIDDEN`]).not.toContain(`${path}: ${code}`);
    }
  }, 120_000);

  it("refuses a browser-session mutation without its CSRF token, but not a read", async () => {
    const session = actorOf("admin", "session");
    expect(await codeOf(call(h, session, "projects.add", { path: "/nowhere" }, false))).toBe("FORBIDDEN");
    expect(await codeOf(call(h, session, "projects.list", undefined, false))).toBe("OK");
    const token = actorOf("admin", "token");
    expect(await codeOf(call(h, token, "projects.add", { path: "/nowhere" }, false))).toBe("BAD_REQUEST");
  });
});

describe("users, tokens, sessions and first start", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("creates the local admin and a 0600 token file on first start, and reuses them after", async () => {
    // A database of its own: the run's shared one already has admins (other files' users), and first start means none yet.
    await withOwnDatabase(firstStart);
  });

  async function withOwnDatabase(fn: (db: Harness["services"]["db"]) => Promise<void>) {
    const database = await createTestDatabase(inject("databaseUrl"));
    const db = createDb(database.url);
    try {
      await fn(db);
    } finally {
      await db.$disconnect();
      await database.drop();
    }
  }

  async function firstStart(db: Harness["services"]["db"]) {
    const first = await bootstrapAuth(db, { home: h.home, host: "127.0.0.1" });
    expect(first.generatedPassword).toMatch(/^[a-z2-9]{5}(-[a-z2-9]{5}){3}$/);
    expect((await stat(first.tokenFile)).mode & 0o777).toBe(0o600);
    expect((await stat(first.passwordFile)).mode & 0o777).toBe(0o600);
    expect((await readFile(first.tokenFile, "utf8")).trim()).toBe(first.token);
    const admin = await actorFromToken(db, first.token);
    expect(admin).toMatchObject({ name: "admin", role: "admin", via: "token" });
    await expect(signInWithPassword(db, "admin", first.generatedPassword!)).resolves.toMatchObject({
      user: { name: "admin", role: "admin" },
    });

    const second = await bootstrapAuth(db, { home: h.home, host: "127.0.0.1" });
    expect(second.generatedPassword).toBeNull();
    expect(second.token).toBe(first.token);
    // Stored hashed: the database holds neither the token nor the password.
    const rows = JSON.stringify(await db.$queryRawUnsafe("SELECT * FROM api_tokens"), (_, v) =>
      typeof v === "bigint" ? String(v) : v,
    );
    expect(rows).not.toContain(first.token);
    expect(JSON.stringify(await db.user.findMany())).not.toContain(first.generatedPassword!);

    // Reachable from other machines, it refuses until an admin has a chosen password, and says how.
    await expect(bootstrapAuth(db, { home: h.home, host: "0.0.0.0" })).rejects.toThrow(/LOOPY_ADMIN_PASSWORD/);
    await bootstrapAuth(db, { home: h.home, host: "0.0.0.0", adminPassword: "a long chosen passphrase" });
    await expect(signInWithPassword(db, "admin", "a long chosen passphrase")).resolves.toBeTruthy();
    await expect(signInWithPassword(db, "admin", first.generatedPassword!)).rejects.toThrow(
      /Wrong user name or password/,
    );
  }

  it("scopes tokens to at most their user's role, and refuses revoked tokens and disabled users", async () => {
    const db = h.services.db;
    const name = unique("rev");
    await createUser(db, { name, role: "reviewer", password: "reviewer-password" });
    await expect(createApiToken(db, { user: name, name: "too much", role: "operator" })).rejects.toThrow(/higher role/);
    const viewerToken = await createApiToken(db, { user: name, name: "read only", role: "viewer" });
    expect(await actorFromToken(db, viewerToken.token)).toMatchObject({ name, role: "viewer" });

    const api = h.apiAs((await actorFromToken(db, viewerToken.token))!);
    expect(await codeOf(api.review.approve({ runId: "abc" }))).toBe("FORBIDDEN");

    await h.api.auth.revokeToken({ id: viewerToken.id });
    expect(await actorFromToken(db, viewerToken.token)).toBeNull();

    const full = await createApiToken(db, { user: name, name: "full" });
    const session = await signInWithPassword(db, name, "reviewer-password");
    expect((await actorFromSession(db, session.token))?.actor).toMatchObject({
      name,
      role: "reviewer",
      via: "session",
    });
    await updateUser(db, name, { disabled: true });
    expect(await actorFromToken(db, full.token)).toBeNull();
    expect(await actorFromSession(db, session.token)).toBeNull();
    await expect(signInWithPassword(db, name, "reviewer-password")).rejects.toThrow(/Wrong user name or password/);
  });

  it("refuses to demote or disable the last admin", async () => {
    // Its own database: disabling every other admin of the shared one would lock out other files' users.
    await withOwnDatabase(async (db) => {
      await bootstrapAuth(db, { home: h.home, host: "127.0.0.1" });
      const second = unique("second-admin");
      await createUser(db, { name: second, role: "admin", password: "second-admin-password" });
      await updateUser(db, second, { disabled: true });
      await expect(updateUser(db, "admin", { role: "viewer" })).rejects.toThrow(/last active admin/);
      await expect(updateUser(db, "admin", { disabled: true })).rejects.toThrow(/last active admin/);
      await updateUser(db, second, { disabled: false });
      await updateUser(db, "admin", { role: "viewer" });
    });
  });

  it("reads a request's bearer token or session cookie, and checks the CSRF header against the session", async () => {
    const db = h.services.db;
    const name = unique("op");
    await createUser(db, { name, role: "operator", password: "operator-password" });
    const { token } = await createApiToken(db, { user: name, name: "cli" });
    const headers = (entries: Record<string, string>) => ({ headers: new Headers(entries) });

    expect(await actorOfRequest(db, headers({ authorization: `Bearer ${token}` }))).toMatchObject({
      actor: { name, role: "operator", via: "token" },
      csrfValid: true,
    });
    expect((await actorOfRequest(db, headers({ authorization: "Bearer loopy_tok_forged" }))).actor).toBeNull();
    expect((await actorOfRequest(db, headers({}))).actor).toBeNull();

    const session = await signInWithToken(db, token);
    const cookie = `${SESSION_COOKIE}=${session.token}; loopy_csrf=${session.csrfToken}`;
    expect(await actorOfRequest(db, headers({ cookie }))).toMatchObject({
      actor: { name, via: "session" },
      csrfValid: false,
    });
    expect(await actorOfRequest(db, headers({ cookie, [CSRF_HEADER]: session.csrfToken }))).toMatchObject({
      csrfValid: true,
    });
    expect(await actorOfRequest(db, headers({ cookie, [CSRF_HEADER]: "guess" }))).toMatchObject({ csrfValid: false });

    // A token scoped below its user's role cannot open a session (which would carry the user's whole role).
    const viewer = await createApiToken(db, { user: name, name: "read-only", role: "viewer" });
    await expect(signInWithToken(db, viewer.token)).rejects.toThrow(/scoped to viewer, below its user's role/);
  });
});

describe("audit log", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("records who did each mutation, with its target, and never a password or token", async () => {
    const name = unique("ada");
    const admin: Actor = { userId: null, name: unique("boss"), role: "admin", via: "session" };
    await h.apiAs(admin).auth.createUser({ name, role: "reviewer", password: "secret-password-123" });
    const token = await h.apiAs(admin).auth.createToken({ name: "ci", user: name });
    const repo = await makeRepo();
    const project = await h.apiAs(admin).projects.add({ path: repo, name: unique("audited") });
    const refused = await codeOf(
      h.apiAs({ ...admin, role: "viewer" }).projects.update({ project: project.name, maxAttempts: 2 }),
    );
    expect(refused).toBe("FORBIDDEN");

    const log = await h.api.auth.audit({ actor: admin.name });
    expect(log.entries.map((e) => [e.action, e.targetKind, e.targetId])).toEqual([
      ["projects.add", "projects", project.id],
      ["auth.createToken", "auth", token.id],
      ["auth.createUser", "auth", expect.any(String)],
    ]);
    const text = JSON.stringify(log);
    expect(text).toContain(`"password":"[hidden]"`);
    expect(text).not.toContain("secret-password-123");
    expect(text).not.toContain(token.token);
    // Filter by action prefix.
    expect((await h.api.auth.audit({ actor: admin.name, action: "auth." })).entries).toHaveLength(2);
  });
});

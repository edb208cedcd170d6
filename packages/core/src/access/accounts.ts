import { chmod, readFile, writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import type { Db } from "@loopy/db/client";
import { AppError, badInput, conflict, notFound } from "../shared/errors.ts";
import { newId } from "../shared/ids.ts";
import { recordAudit } from "./audit.ts";
import { type Actor, type Role, roleAtLeast } from "./roles.ts";
import { generatePassword, hashPassword, hashToken, newSecretToken, verifyPassword } from "./secrets-hash.ts";

/**
 * Users, API tokens and browser sessions. Changes made through the API are
 * recorded by the API's audit middleware; sign-ins and first start here. Passwords are stored as scrypt
 * hashes, tokens and session cookies as sha256 of 256-bit random values:
 * the database never holds anything a caller could present.
 */

const SESSION_TTL_MS = 14 * 24 * 3600_000;
const NAME = /^[a-z0-9][a-z0-9._-]{0,39}$/;
const MIN_PASSWORD = 10;
/** Sliding sessions and token "last used" are written at most this often. */
const TOUCH_EVERY_MS = 5 * 60_000;

const TOKEN_FILE = "token";
export const ADMIN_PASSWORD_FILE = "admin-password";
const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function checkName(name: string) {
  if (!NAME.test(name))
    throw badInput(
      `User name "${name}" is not allowed: use 1–40 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
}

function checkPassword(password: string) {
  if (password.length < MIN_PASSWORD) throw badInput(`A password needs at least ${MIN_PASSWORD} characters`);
  if (password.length > 1024) throw badInput("A password is limited to 1024 characters");
}

const userView = (u: {
  id: string;
  name: string;
  role: Role;
  createdAt: Date;
  disabledAt: Date | null;
  passwordHash: string | null;
}) => ({
  id: u.id,
  name: u.name,
  role: u.role,
  createdAt: u.createdAt,
  disabled: u.disabledAt !== null,
  canSignIn: u.passwordHash !== null,
});

export async function listUsers(db: Db) {
  const users = await db.user.findMany({ orderBy: { createdAt: "asc" } });
  return users.map(userView);
}

export async function createUser(db: Db, input: { name: string; role: Role; password?: string }) {
  checkName(input.name);
  if (input.password !== undefined) checkPassword(input.password);
  if (await db.user.findUnique({ where: { name: input.name } }))
    throw conflict(`A user named "${input.name}" already exists`);
  const user = await db.user.create({
    data: {
      id: newId(),
      name: input.name,
      role: input.role,
      passwordHash: input.password === undefined ? null : await hashPassword(input.password),
    },
  });
  return userView(user);
}

async function findUser(db: Db, name: string) {
  const user = await db.user.findUnique({ where: { name } });
  if (!user) throw notFound(`No user named "${name}"`);
  return user;
}

async function assertAnotherAdmin(db: Db, userId: string, what: string) {
  const admins = await db.user.count({ where: { role: "admin", disabledAt: null, id: { not: userId } } });
  if (admins === 0) throw conflict(`Refused to ${what}: it is the last active admin`);
}

export async function updateUser(db: Db, name: string, change: { role?: Role; disabled?: boolean; password?: string }) {
  const user = await findUser(db, name);
  if ((change.role && change.role !== "admin" && user.role === "admin") || (change.disabled && user.role === "admin")) {
    await assertAnotherAdmin(db, user.id, change.disabled ? `disable ${name}` : `demote ${name}`);
  }
  if (change.password !== undefined) checkPassword(change.password);
  const updated = await db.user.update({
    where: { id: user.id },
    data: {
      ...(change.role ? { role: change.role } : {}),
      ...(change.disabled === undefined ? {} : { disabledAt: change.disabled ? new Date() : null }),
      ...(change.password === undefined
        ? {}
        : { passwordHash: await hashPassword(change.password), passwordGenerated: false }),
    },
  });
  if (change.disabled || change.password !== undefined) await db.session.deleteMany({ where: { userId: user.id } });
  // A token never outranks its owner.
  if (change.role)
    await db.apiToken.updateMany({
      where: { userId: user.id, revokedAt: null, role: { in: rolesAbove(change.role) } },
      data: { role: change.role },
    });
  return userView(updated);
}

function rolesAbove(role: Role): Role[] {
  const all: Role[] = ["viewer", "reviewer", "operator", "admin"];
  return all.filter((r) => !roleAtLeast(role, r));
}

// --- API tokens -------------------------------------------------------------

export async function createApiToken(db: Db, input: { user: string; name: string; role?: Role }) {
  const user = await findUser(db, input.user);
  const role = input.role ?? user.role;
  if (!roleAtLeast(user.role, role))
    throw badInput(`A token cannot have a higher role than its user: ${user.name} is ${user.role}, asked for ${role}`);
  if (!input.name.trim() || input.name.length > 80)
    throw badInput("A token needs a name of 1–80 characters (what it is for)");
  const { token, hash, prefix } = newSecretToken("tok");
  const row = await db.apiToken.create({
    data: { id: newId(), name: input.name.trim(), userId: user.id, role, tokenHash: hash, prefix },
  });
  return { id: row.id, name: row.name, user: user.name, role, prefix, token };
}

export async function listApiTokens(db: Db) {
  const rows = await db.apiToken.findMany({
    orderBy: { createdAt: "desc" },
    include: { user: { select: { name: true } } },
  });
  return rows.map((t) => ({
    id: t.id,
    name: t.name,
    user: t.user.name,
    role: t.role,
    prefix: t.prefix,
    createdAt: t.createdAt,
    lastUsedAt: t.lastUsedAt,
    revoked: t.revokedAt !== null,
  }));
}

export async function revokeApiToken(db: Db, id: string) {
  const row = await db.apiToken.findUnique({ where: { id } });
  if (!row) throw notFound(`No token ${id}`);
  if (!row.revokedAt) await db.apiToken.update({ where: { id }, data: { revokedAt: new Date() } });
  return { id, revoked: true };
}

/** The actor a bearer token stands for, or null when it is unknown, revoked or its user disabled. */
export async function actorFromToken(db: Db, token: string): Promise<Actor | null> {
  if (!token.startsWith("loopy_tok_")) return null;
  const row = await db.apiToken.findUnique({ where: { tokenHash: hashToken(token) }, include: { user: true } });
  if (!row || row.revokedAt || row.user.disabledAt) return null;
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > TOUCH_EVERY_MS) {
    // lastUsedAt is informative only: a token revoked meanwhile, or a busy database, must not fail the request.
    await db.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => undefined);
  }
  const role = roleAtLeast(row.user.role, row.role) ? row.role : row.user.role;
  return { userId: row.user.id, name: row.user.name, role, via: "token", tokenId: row.id };
}

// --- Browser sessions -------------------------------------------------------

export interface NewSession {
  token: string;
  csrfToken: string;
  expiresAt: Date;
  user: { name: string; role: Role };
}

async function openSession(db: Db, user: { id: string; name: string; role: Role }): Promise<NewSession> {
  const { token, hash } = newSecretToken("ses");
  const csrfToken = newSecretToken("ses").hash.slice(0, 32);
  const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
  await db.session.create({ data: { id: newId(), userId: user.id, tokenHash: hash, csrfToken, expiresAt } });
  return { token, csrfToken, expiresAt, user: { name: user.name, role: user.role } };
}

const BAD_LOGIN = "Wrong user name or password";

/** Signs in with a password. The same message for an unknown user and a wrong password. */
export async function signInWithPassword(db: Db, name: string, password: string): Promise<NewSession> {
  const user = await db.user.findUnique({ where: { name } });
  if (!user?.passwordHash || user.disabledAt || !(await verifyPassword(password, user.passwordHash))) {
    throw new AppError("UNAUTHENTICATED", BAD_LOGIN);
  }
  await recordAudit(
    db,
    { userId: user.id, name: user.name, role: user.role, via: "session" },
    "auth.signIn",
    { kind: "user", id: user.id },
    { with: "password" },
  );
  return openSession(db, user);
}

/** Signs a browser in with an API token (a `/login#token=…` link): the session gets the token's role. */
export async function signInWithToken(db: Db, token: string): Promise<NewSession> {
  const actor = await actorFromToken(db, token);
  if (!actor?.userId)
    throw new AppError("UNAUTHENTICATED", "That token is not valid (unknown, revoked, or its user is disabled)");
  // A session has its user's whole role: a token scoped lower (a viewer token of an admin) must not open one.
  const user = await db.user.findUnique({ where: { id: actor.userId }, select: { role: true } });
  if (!user || user.role !== actor.role) {
    throw new AppError(
      "FORBIDDEN",
      `That token is scoped to ${actor.role}, below its user's role; sign in with the password or a sign-in link (npx loopy sign-in-link)`,
    );
  }
  await recordAudit(db, actor, "auth.signIn", { kind: "user", id: actor.userId }, { with: "token" });
  return openSession(db, { id: actor.userId, name: actor.name, role: actor.role });
}

/** How long a one-time sign-in code can be used. */
const SIGN_IN_CODE_TTL_MS = 15 * 60_000;
const BAD_CODE =
  "That sign-in link was used already or has expired: run npx loopy sign-in-link for a new one, or sign in with a password";

/**
 * A one-time sign-in code for a user (the link `npm start` prints, `loopy sign-in-link`): exchanged
 * once for a session at /api/auth/login, within SIGN_IN_CODE_TTL_MS. Unlike the API token the link used
 * to carry, a code seen later in a terminal's scrollback or a log is worth nothing.
 */
export async function createSignInCode(
  db: Db,
  userId: string,
  ttlMs = SIGN_IN_CODE_TTL_MS,
): Promise<{ code: string; expiresAt: Date }> {
  const { token: code, hash } = newSecretToken("sic");
  const expiresAt = new Date(Date.now() + ttlMs);
  await db.signInCode.deleteMany({ where: { expiresAt: { lt: new Date() } } });
  await db.signInCode.create({ data: { id: newId(), userId, codeHash: hash, expiresAt } });
  return { code, expiresAt };
}

/** Signs a browser in with a one-time code: the row is deleted first, so of two uses at once only one wins. */
export async function signInWithCode(db: Db, code: string): Promise<NewSession> {
  if (!code.startsWith("loopy_sic_")) throw new AppError("UNAUTHENTICATED", BAD_CODE);
  const rows = await db.$queryRaw<
    Array<{ user_id: string; expires_at: Date }>
  >`DELETE FROM "sign_in_codes" WHERE "code_hash" = ${hashToken(code)} RETURNING "user_id", "expires_at"`;
  const row = rows[0];
  if (!row || row.expires_at.getTime() <= Date.now()) throw new AppError("UNAUTHENTICATED", BAD_CODE);
  const user = await db.user.findUnique({ where: { id: row.user_id } });
  if (!user || user.disabledAt) throw new AppError("UNAUTHENTICATED", BAD_CODE);
  await recordAudit(
    db,
    { userId: user.id, name: user.name, role: user.role, via: "session" },
    "auth.signIn",
    { kind: "user", id: user.id },
    { with: "one-time code" },
  );
  return openSession(db, user);
}

/** The actor a session cookie stands for, with its CSRF token; null when unknown or expired. */
export async function actorFromSession(db: Db, token: string): Promise<{ actor: Actor; csrfToken: string } | null> {
  if (!token.startsWith("loopy_ses_")) return null;
  const row = await db.session.findUnique({ where: { tokenHash: hashToken(token) }, include: { user: true } });
  if (!row || row.user.disabledAt) return null;
  const now = Date.now();
  if (row.expiresAt.getTime() <= now) {
    // Expired either way; another request (or sign-out) may have deleted it first.
    await db.session.delete({ where: { id: row.id } }).catch(() => undefined);
    return null;
  }
  if (now - row.lastSeenAt.getTime() > TOUCH_EVERY_MS) {
    // Sliding expiry, best effort: the session is valid now; a missed touch is retried by the next request.
    await db.session
      .update({ where: { id: row.id }, data: { lastSeenAt: new Date(now), expiresAt: new Date(now + SESSION_TTL_MS) } })
      .catch(() => undefined);
  }
  return {
    actor: { userId: row.user.id, name: row.user.name, role: row.user.role, via: "session" },
    csrfToken: row.csrfToken,
  };
}

export async function signOut(db: Db, token: string) {
  await db.session.deleteMany({ where: { tokenHash: hashToken(token) } });
}

// --- First start ------------------------------------------------------------

export interface AuthBootstrap {
  /** The local admin (the first active one): whom the one-time sign-in link `npm start` prints signs in. */
  admin: { id: string; name: string };
  /** Set when this start created the admin with a generated password (also in the password file). */
  generatedPassword: string | null;
  passwordFile: string;
  tokenFile: string;
  /** The local CLI token (contents of the token file). */
  token: string;
}

async function writePrivate(file: string, content: string) {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, content, { mode: 0o600 });
  await chmod(file, 0o600);
}

/**
 * Run by `npm start` once the database is migrated: on first start creates the
 * local admin (password from LOOPY_ADMIN_PASSWORD, else generated and written
 * to $LOOPY_HOME/admin-password) and keeps a valid admin API token in
 * $LOOPY_HOME/token for the CLI on this machine. Bound to anything but
 * loopback, refuses to go on until an admin has a password a person chose.
 */
export async function bootstrapAuth(
  db: Db,
  options: { home: string; host: string; adminPassword?: string },
): Promise<AuthBootstrap> {
  const passwordFile = path.join(options.home, ADMIN_PASSWORD_FILE);
  const tokenFile = path.join(options.home, TOKEN_FILE);
  let generatedPassword: string | null = null;
  const system: Actor = { userId: null, name: "loopy", role: "admin", via: "system" };

  let admin = await db.user.findFirst({ where: { role: "admin", disabledAt: null }, orderBy: { createdAt: "asc" } });
  if (!admin) {
    const chosen = options.adminPassword;
    if (chosen !== undefined) checkPassword(chosen);
    const password = chosen ?? generatePassword();
    const existing = await db.user.findUnique({ where: { name: "admin" } });
    admin = existing
      ? await db.user.update({
          where: { id: existing.id },
          data: {
            role: "admin",
            disabledAt: null,
            passwordHash: await hashPassword(password),
            passwordGenerated: chosen === undefined,
          },
        })
      : await db.user.create({
          data: {
            id: newId(),
            name: "admin",
            role: "admin",
            passwordHash: await hashPassword(password),
            passwordGenerated: chosen === undefined,
          },
        });
    await recordAudit(
      db,
      system,
      "auth.createUser",
      { kind: "user", id: admin.id },
      { name: admin.name, role: "admin", firstStart: true },
    );
    if (chosen === undefined) {
      generatedPassword = password;
      await writePrivate(passwordFile, `${password}\n`);
    }
  } else if (options.adminPassword !== undefined && admin.name === "admin") {
    checkPassword(options.adminPassword);
    if (
      !admin.passwordHash ||
      !(await verifyPassword(options.adminPassword, admin.passwordHash)) ||
      admin.passwordGenerated
    ) {
      admin = await db.user.update({
        where: { id: admin.id },
        data: { passwordHash: await hashPassword(options.adminPassword), passwordGenerated: false },
      });
      await recordAudit(
        db,
        system,
        "auth.updateUser",
        { kind: "user", id: admin.id },
        { name: admin.name, password: "set from LOOPY_ADMIN_PASSWORD" },
      );
    }
  }

  if (!isLoopback(options.host)) {
    const chosen = await db.user.count({
      where: { role: "admin", disabledAt: null, passwordGenerated: false, passwordHash: { not: null } },
    });
    if (chosen === 0) {
      throw new AppError(
        "BAD_INPUT",
        `Loopy is asked to listen on ${options.host}, which other machines can reach, and auth is not configured: no admin has a password a person chose. ` +
          `Set one and start again, e.g. LOOPY_ADMIN_PASSWORD='a long passphrase' HOST=${options.host} npm start ` +
          `(or, with Loopy running on 127.0.0.1: npx loopy user passwd admin). Browsers then sign in at /login; the CLI uses an API token (LOOPY_TOKEN).`,
      );
    }
  }

  let token: string | null = null;
  try {
    const existing = (await readFile(tokenFile, "utf8")).trim();
    if (existing && (await actorFromToken(db, existing))) token = existing;
  } catch {
    // no token file yet
  }
  if (!token) {
    const created = await createApiToken(db, { user: admin.name, name: `local CLI (${tokenFile})`, role: "admin" });
    token = created.token;
    await writePrivate(tokenFile, `${token}\n`);
  }
  return { admin: { id: admin.id, name: admin.name }, generatedPassword, passwordFile, tokenFile, token };
}

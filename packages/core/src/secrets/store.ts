import type { Db } from "@loopy/db/client";
import { badInput, notFound } from "../shared/errors.ts";
import { openSecret, sealSecret } from "./crypto.ts";
import { loadMasterKey, type MasterKeySource } from "./master-key.ts";
import { secretNameProblem } from "./names.ts";

/** Longer values are refused: a secret is a key or a token, not a file. */
export const MAX_SECRET_BYTES = 64 * 1024;
/** Shorter values are refused: redacting them from every log would wreck the logs. */
export const MIN_SECRET_LENGTH = 6;

export interface SecretListing {
  name: string;
  createdAt: Date;
  updatedAt: Date;
  updatedBy: string | null;
}

/** Checks a name, throwing BAD_INPUT with what is wrong. */
export function checkSecretName(name: string): string {
  const problem = secretNameProblem(name);
  if (problem) throw badInput(problem);
  return name;
}

/** Stores (or replaces) a secret, encrypted under the master key. The value is never returned by anything. */
export async function setSecret(
  db: Db,
  key: MasterKeySource,
  input: { name: string; value: string; updatedBy?: string | null },
): Promise<{ name: string }> {
  const name = checkSecretName(input.name);
  const value = input.value;
  if (value.length < MIN_SECRET_LENGTH)
    throw badInput(
      `The value of ${name} is shorter than ${MIN_SECRET_LENGTH} characters; such a value cannot be redacted from logs safely`,
    );
  if (Buffer.byteLength(value, "utf8") > MAX_SECRET_BYTES)
    throw badInput(`The value of ${name} is larger than ${MAX_SECRET_BYTES / 1024} KiB`);
  if (value.includes("\u0000"))
    throw badInput(`The value of ${name} contains a NUL character, which an environment variable cannot hold`);
  if (/^[\r\n]|[\r\n]$/.test(value)) throw badInput(`The value of ${name} starts or ends with a line break; remove it`);
  const sealed = sealSecret(await loadMasterKey(key), value, name);
  await db.secret.upsert({
    where: { name },
    create: { name, ...sealed, updatedBy: input.updatedBy ?? null },
    update: { ...sealed, updatedBy: input.updatedBy ?? null },
  });
  return { name };
}

/** Deletes a secret; NOT_FOUND when there is none by that name. */
export async function deleteSecret(db: Db, name: string): Promise<{ name: string }> {
  const { count } = await db.secret.deleteMany({ where: { name } });
  if (count === 0) throw notFound(`No secret named ${name}. List them with "loopy secrets".`);
  return { name };
}

/** Names and dates of the stored secrets, never their values. */
export function listSecretNames(db: Db): Promise<SecretListing[]> {
  return db.secret.findMany({
    orderBy: { name: "asc" },
    select: { name: true, createdAt: true, updatedAt: true, updatedBy: true },
  });
}

/** Which of `names` are not stored. */
export async function missingSecrets(db: Db, names: string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const found = new Set(
    (await db.secret.findMany({ where: { name: { in: names } }, select: { name: true } })).map((r) => r.name),
  );
  return [...new Set(names)].filter((n) => !found.has(n));
}

/**
 * The values of stored secrets, decrypted, by name. Throws NOT_FOUND naming
 * every secret that is not stored; a value that does not decrypt (another
 * master key, a changed row) throws with its name.
 */
export async function resolveSecrets(db: Db, key: MasterKeySource, names: string[]): Promise<Record<string, string>> {
  const wanted = [...new Set(names)];
  if (wanted.length === 0) return {};
  const rows = await db.secret.findMany({
    where: { name: { in: wanted } },
    select: { name: true, ciphertext: true, iv: true, tag: true },
  });
  const missing = wanted.filter((n) => !rows.some((r) => r.name === n));
  if (missing.length)
    throw notFound(
      `Secret${missing.length > 1 ? "s" : ""} not set: ${missing.join(", ")}. Set ${missing.length > 1 ? "them" : "it"} with "loopy secret set NAME" (value on stdin)`,
    );
  const master = await loadMasterKey(key);
  const values: Record<string, string> = {};
  for (const row of rows) {
    try {
      values[row.name] = openSecret(master, row, row.name);
    } catch {
      throw new Error(
        `Secret ${row.name} cannot be decrypted: it was stored under another master key (LOOPY_MASTER_KEY or ${"$"}LOOPY_HOME/master.key changed) or altered; set it again`,
      );
    }
  }
  return values;
}

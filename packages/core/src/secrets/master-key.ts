import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { masterKeyBytes } from "@loopy/config/env";

/** Where the master key comes from: LOOPY_MASTER_KEY, else a file in LOOPY_HOME. */
export interface MasterKeySource {
  /** LOOPY_MASTER_KEY (already validated by loadEnv). */
  value?: string;
  loopyHome: string;
}

export const MASTER_KEY_FILE = "master.key";

const cache = new Map<string, Promise<Buffer>>();

/**
 * The 32-byte key stored secrets are encrypted with: LOOPY_MASTER_KEY, else
 * `$LOOPY_HOME/master.key`, created with mode 0600 on first use. A key file
 * that group or others may read is refused: whoever can read it and the
 * database can read every secret.
 */
export function loadMasterKey(source: MasterKeySource): Promise<Buffer> {
  const id = `${source.value ?? ""}\u0000${path.resolve(source.loopyHome)}`;
  let key = cache.get(id);
  if (!key) {
    key = readOrCreate(source);
    cache.set(id, key);
    // A failure (a bad mode fixed with chmod) is not remembered.
    key.catch(() => cache.delete(id));
  }
  return key;
}

/**
 * Called at start (`npm start`, every worker) so the key exists from the first start, not from the
 * first `secret set`: it is there to back up with the database from day one, and a key file with a
 * bad mode stops the start instead of a later run. `created` says this call made the file.
 */
export async function ensureMasterKey(source: MasterKeySource): Promise<{ file: string | null; created: boolean }> {
  if (source.value) {
    await loadMasterKey(source);
    return { file: null, created: false };
  }
  const file = path.join(path.resolve(source.loopyHome), MASTER_KEY_FILE);
  const existed = await stat(file).then(
    () => true,
    () => false,
  );
  await loadMasterKey(source);
  return { file, created: !existed };
}

async function readOrCreate(source: MasterKeySource): Promise<Buffer> {
  if (source.value) {
    const bytes = masterKeyBytes(source.value);
    if (!bytes)
      throw new Error(
        "LOOPY_MASTER_KEY must be 32 bytes as base64 (openssl rand -base64 32) or hex (openssl rand -hex 32)",
      );
    return bytes;
  }
  const file = path.join(path.resolve(source.loopyHome), MASTER_KEY_FILE);
  const existing = await readKeyFile(file);
  if (existing) return existing;
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // Written whole to a temporary name, then linked into place: a process starting at the
  // same time either wins the link or reads the complete file the other one made.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  await writeFile(temp, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  try {
    await link(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    await rm(temp, { force: true });
  }
  const created = await readKeyFile(file);
  if (!created) throw new Error(`Could not create the master key file ${file}`);
  return created;
}

async function readKeyFile(file: string): Promise<Buffer | null> {
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return null;
    throw error;
  });
  if (!info) return null;
  if ((info.mode & 0o077) !== 0) {
    throw new Error(
      `The master key file ${file} can be read by other users (mode ${(info.mode & 0o777).toString(8).padStart(4, "0")}); run "chmod 600 ${file}" (or set LOOPY_MASTER_KEY)`,
    );
  }
  const bytes = masterKeyBytes(await readFile(file, "utf8"));
  if (!bytes) throw new Error(`The master key file ${file} does not hold a 32-byte key (base64 or hex)`);
  return bytes;
}

import { randomBytes } from "node:crypto";
import { chmod, link, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";

/** Where the embedded database's and the Redis child's passwords live, in LOOPY_HOME. */
export const DB_PASSWORD_FILE = "db-password";
export const REDIS_PASSWORD_FILE = "redis-password";

/**
 * Characters a password file may hold: URL-safe as they are (they go into
 * DATABASE_URL and REDIS_URL) and needing no quoting in a redis.conf line.
 * Generated ones are base64url.
 */
const PASSWORD = /^[A-Za-z0-9._~-]{16,512}$/;

/**
 * The password in `file`, created on first use with 32 random bytes
 * (base64url) and mode 0600. A file that group or others may read is refused:
 * the password is what keeps anyone else on the machine (an agent among them)
 * out of the database or Redis. Same pattern as core's master key, which this
 * package cannot import.
 */
export async function readOrCreatePassword(file: string): Promise<string> {
  const existing = await readPasswordFile(file);
  if (existing) return existing;
  await mkdir(path.dirname(file), { recursive: true });
  // Written whole to a temporary name, then linked into place: a process starting at the
  // same time either wins the link or reads the complete file the other one made.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  await writeFile(temp, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
  try {
    await link(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    await rm(temp, { force: true });
  }
  const created = await readPasswordFile(file);
  if (!created) throw new Error(`Could not create the password file ${file}`);
  return created;
}

async function readPasswordFile(file: string): Promise<string | null> {
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return null;
    throw error;
  });
  if (!info) return null;
  if ((info.mode & 0o077) !== 0) {
    throw new Error(
      `The password file ${file} can be read by other users (mode ${(info.mode & 0o777).toString(8).padStart(4, "0")}); run "chmod 600 ${file}"`,
    );
  }
  const password = (await readFile(file, "utf8")).trim();
  if (!PASSWORD.test(password)) {
    throw new Error(
      `The password file ${file} must hold one password of 16 to 512 characters from A-Z a-z 0-9 . _ ~ - (delete it to have a new one generated)`,
    );
  }
  return password;
}

/**
 * Creates `dir` with mode 0700, and narrows it to 0700 if an earlier Loopy
 * made it wider: it holds the database's or Redis's files, which nobody else
 * needs to read.
 */
export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

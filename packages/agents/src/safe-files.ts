import { constants } from "node:fs";
import { type FileHandle, lstat, mkdir, open, rename, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";

/**
 * Reading and writing files in folders a confined process can write (a
 * workspace, an agent's state folder) from the worker, which is not confined.
 * The process may have left symlinks (to the master key, to ~/.bashrc), FIFOs
 * or huge files there, and the worker must never follow, block on or swallow
 * them: no symlink is followed at any level under `root`, only regular files
 * are read (up to `maxBytes`), and writes replace the file (a temporary file
 * renamed over it, which replaces a symlink rather than writing through it).
 */

/** Names an agent's output may choose (session and thread ids) that are safe as part of a file name. */
export const SAFE_NAME = /^[\w.-]{1,128}$/;

/** Each folder between `root` and `file` exists as a real folder (not a symlink); creates missing ones when `create`. */
async function realFolders(root: string, file: string, create: boolean): Promise<boolean> {
  const relative = path.relative(root, path.dirname(file));
  if (relative.startsWith("..") || path.isAbsolute(relative)) throw new Error(`${file} is not inside ${root}`);
  let at = root;
  for (const part of relative ? relative.split(path.sep) : []) {
    at = path.join(at, part);
    const stat = await lstat(at).catch(() => null);
    if (!stat) {
      if (!create) return false;
      await mkdir(at, { mode: 0o700 });
    } else if (!stat.isDirectory()) {
      if (!create) return false;
      throw new Error(`${at} is not a folder (a symlink or a file was left there)`);
    }
  }
  return true;
}

/** Makes `folder` (inside `root`) and the folders above it, refusing to go through a symlink. */
export async function makeFolder(root: string, folder: string): Promise<void> {
  await mkdir(root, { recursive: true });
  await realFolders(root, path.join(folder, "."), true);
  const stat = await lstat(folder).catch(() => null);
  if (!stat) await mkdir(folder, { mode: 0o700 });
  else if (!stat.isDirectory()) throw new Error(`${folder} is not a folder (a symlink or a file was left there)`);
}

/** The content of `file` (inside `root`) when it is a regular file of at most `maxBytes`; null otherwise (missing, a symlink, a FIFO, too big). */
export async function readRegularFile(root: string, file: string, maxBytes: number): Promise<Buffer | null> {
  if (!(await realFolders(root, file, false))) return null;
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size > maxBytes) return null;
    const buffer = Buffer.alloc(stat.size);
    const { bytesRead } = await handle.read(buffer, 0, stat.size, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Writes `content` to `file` (inside `root`) as a new regular file, whatever was there (a symlink is replaced, never followed). */
export async function writeRegularFile(
  root: string,
  file: string,
  content: string | Buffer,
  mode = 0o600,
): Promise<void> {
  await realFolders(root, file, true);
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(
    temporary,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    mode,
  );
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

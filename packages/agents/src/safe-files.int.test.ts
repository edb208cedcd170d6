import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeFolder, readRegularFile, writeRegularFile } from "./safe-files.ts";

/** What a confined agent can leave in its workspace or state folder, for the unconfined worker to trip on. */
async function planted() {
  const root = await mkdtemp(path.join(tmpdir(), "loopy-safe-root-"));
  const outside = await mkdtemp(path.join(tmpdir(), "loopy-safe-outside-"));
  const key = path.join(outside, "master.key");
  await writeFile(key, "the master key\n");
  await symlink(key, path.join(root, "notes.md"));
  await symlink(outside, path.join(root, "sub"));
  execFileSync("mkfifo", [path.join(root, "fifo")]);
  await writeFile(path.join(root, "big.txt"), "x".repeat(2048));
  await writeFile(path.join(root, "plain.txt"), "plain\n");
  return { root, outside, key };
}

describe("files a confined process could have planted", () => {
  it("reads only regular files, never through a symlink (file or folder), never blocking on a FIFO, within the size", async () => {
    const { root } = await planted();
    expect(await readRegularFile(root, path.join(root, "notes.md"), 1024)).toBeNull();
    expect(await readRegularFile(root, path.join(root, "sub", "master.key"), 1024)).toBeNull();
    expect(await readRegularFile(root, path.join(root, "fifo"), 1024)).toBeNull();
    expect(await readRegularFile(root, path.join(root, "big.txt"), 1024)).toBeNull();
    expect(await readRegularFile(root, path.join(root, "missing"), 1024)).toBeNull();
    expect((await readRegularFile(root, path.join(root, "plain.txt"), 1024))?.toString()).toBe("plain\n");
    await expect(readRegularFile(root, path.join(root, "..", "elsewhere"), 1024)).rejects.toThrow(/not inside/);
  });

  it("writes by replacing: a symlink is replaced, not written through; a symlinked folder is refused", async () => {
    const { root, key } = await planted();
    await writeRegularFile(root, path.join(root, "notes.md"), "new content\n");
    expect(await readFile(key, "utf8")).toBe("the master key\n");
    expect(await readFile(path.join(root, "notes.md"), "utf8")).toBe("new content\n");
    await expect(writeRegularFile(root, path.join(root, "sub", "master.key"), "pwned")).rejects.toThrow(/not a folder/);
    expect(await readFile(key, "utf8")).toBe("the master key\n");
    await expect(makeFolder(root, path.join(root, "sub"))).rejects.toThrow(/not a folder/);
    await makeFolder(root, path.join(root, "a", "b"));
    await writeRegularFile(root, path.join(root, "a", "b", "c.json"), "{}");
    expect(await readFile(path.join(root, "a", "b", "c.json"), "utf8")).toBe("{}");
    await mkdir(path.join(root, "real"));
    await writeRegularFile(root, path.join(root, "real", "x"), "x");
  });
});

import { execFileSync } from "node:child_process";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { changedProtectedFiles, committedFileHash } from "./files.ts";

describe("protected file hashes", () => {
  it("match the committed bytes, and catch an edit, a deletion or a swap for a symlink", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "loopy-protected-"));
    try {
      const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, stdio: "pipe" }).toString().trim();
      git("init", "-q", "-b", "main");
      await writeFile(path.join(dir, "prepare.py"), "def evaluate():\n    return 1\n");
      await writeFile(path.join(dir, "data.bin"), Buffer.from([0, 255, 128, 10, 13, 0]));
      await writeFile(path.join(dir, "train.py"), "x = 1\n");
      git("add", "-A");
      git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init");
      const sha = git("rev-parse", "HEAD");
      const hashes = {
        "prepare.py": await committedFileHash(dir, sha, "prepare.py"),
        "data.bin": await committedFileHash(dir, sha, "data.bin"),
      };
      expect(await changedProtectedFiles(dir, hashes)).toEqual([]);

      await writeFile(path.join(dir, "prepare.py"), "def evaluate():\n    return 0\n");
      expect(await changedProtectedFiles(dir, hashes)).toEqual(["prepare.py"]);
      await rm(path.join(dir, "data.bin"));
      expect(await changedProtectedFiles(dir, hashes)).toEqual(["prepare.py", "data.bin"]);
      git("checkout", "--", ".");
      expect(await changedProtectedFiles(dir, hashes)).toEqual([]);
      await rm(path.join(dir, "prepare.py"));
      await symlink("train.py", path.join(dir, "prepare.py"));
      expect(await changedProtectedFiles(dir, hashes)).toEqual(["prepare.py"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

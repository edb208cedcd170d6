import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readRegularFile } from "@loopy/agents/safe-files";
import { inheritedEnv } from "@loopy/config/env";
import path from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** sha256 of a file's bytes as committed at `sha` (hooks off, minimal environment). */
export async function committedFileHash(repo: string, sha: string, file: string): Promise<string> {
  const { stdout } = await exec("git", ["-c", "core.hooksPath=/dev/null", "cat-file", "blob", `${sha}:${file}`], {
    cwd: repo,
    encoding: "buffer",
    maxBuffer: 1024 * 1024 * 1024,
    // Cast: Next.js makes NODE_ENV mandatory in ProcessEnv when it type-checks this file in the web build.
    env: { PATH: inheritedEnv(["PATH"]).PATH ?? "/usr/bin:/bin", LC_ALL: "C", GIT_TERMINAL_PROMPT: "0" } as Record<
      string,
      string
    > as NodeJS.ProcessEnv,
  });
  return createHash("sha256").update(stdout).digest("hex");
}

/** Protected files whose bytes in `worktree` differ from the recorded sha256 (missing files count). */
export async function changedProtectedFiles(worktree: string, hashes: Record<string, string>): Promise<string[]> {
  const changed: string[] = [];
  for (const [file, expected] of Object.entries(hashes)) {
    // Not through a symlink or a FIFO an experiment or agent left: those count as changed.
    const bytes = await readRegularFile(worktree, path.join(worktree, file), 4 * 1024 * 1024 * 1024).catch(() => null);
    if (!bytes || createHash("sha256").update(bytes).digest("hex") !== expected) changed.push(file);
  }
  return changed;
}

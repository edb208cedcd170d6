import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** A temporary git repository with one commit on `main`. */
export function makeRepo(files: Record<string, string> = { "README.md": "hello colour world\n" }): string {
  const dir = mkdtempSync(path.join(tmpdir(), "loopy-e2e-repo-"));
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, stdio: "pipe" });
  git("init", "-q", "-b", "main");
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  git("add", "-A");
  git("-c", "user.name=E2E", "-c", "user.email=e2e@example.com", "commit", "-q", "-m", "initial");
  return dir;
}

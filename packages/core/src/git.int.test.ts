import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { existsSync } from "node:fs";
import { mkdtemp, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { addWorktree, commitAll, inspectRepo, removeWorktree, resolveCommit } from "./git.ts";
import { diffCommits } from "./diff.ts";

const execFileAsync = promisify(execFile);
const sh = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, stdio: "pipe" }).toString().trim();

async function repo(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "loopy-git-"));
  sh(dir, "init", "-q", "-b", "trunk");
  await writeFile(path.join(dir, "a.txt"), "one\ntwo\nthree\n");
  await writeFile(path.join(dir, "move-me.txt"), "a file that will be renamed\nwith enough lines\nto be detected\n");
  sh(dir, "add", "-A");
  sh(dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init");
  return dir;
}

describe("inspectRepo", () => {
  it("accepts a repository with a commit and reports its checked-out branch", async () => {
    const dir = await repo();
    const result = await inspectRepo(path.join(dir, "."));
    expect(result).toEqual({ ok: true, info: { root: dir, defaultBranch: "trunk" } });
  });

  it("says what is wrong otherwise", async () => {
    const empty = await mkdtemp(path.join(tmpdir(), "loopy-empty-"));
    expect(await inspectRepo(path.join(empty, "missing"))).toEqual({ ok: false, problem: "missing" });
    await writeFile(path.join(empty, "file"), "x");
    expect(await inspectRepo(path.join(empty, "file"))).toEqual({ ok: false, problem: "not_a_directory" });
    expect(await inspectRepo(empty)).toEqual({ ok: false, problem: "not_a_repo" });
    sh(empty, "init", "-q");
    expect(await inspectRepo(empty)).toEqual({ ok: false, problem: "no_commits" });
  });
});

describe("worktree, commit and diff", () => {
  it("isolates changes in a worktree branch and diffs them against the base", async () => {
    const dir = await repo();
    const base = (await resolveCommit(dir, "trunk"))!;
    expect(base).toMatch(/^[0-9a-f]{40}$/);
    expect(await resolveCommit(dir, "no-such-branch")).toBeNull();
    expect(await resolveCommit(dir, "--all")).toBeNull();

    const wt = path.join(await mkdtemp(path.join(tmpdir(), "loopy-wt-")), "run");
    await addWorktree(dir, wt, "loopy/run-test", base);
    await writeFile(path.join(wt, "a.txt"), "one\n2\nthree\nfour\n");
    await writeFile(path.join(wt, "bin.dat"), Buffer.from([0, 1, 2, 3, 0, 255]));
    await rename(path.join(wt, "move-me.txt"), path.join(wt, "moved.txt"));
    const head = await commitAll(wt, "loopy: test");
    expect(head).not.toBe(base);
    // The main checkout is untouched.
    expect(sh(dir, "status", "--porcelain")).toBe("");
    expect(sh(dir, "rev-parse", "loopy/run-test")).toBe(head);

    const diff = await diffCommits(dir, base, head);
    expect(diff.files).toEqual(
      expect.arrayContaining([
        { path: "a.txt", status: "modified", additions: 2, deletions: 1, binary: false },
        { path: "bin.dat", status: "added", additions: 0, deletions: 0, binary: true, bytes: 6 },
        { path: "moved.txt", oldPath: "move-me.txt", status: "renamed", additions: 0, deletions: 0, binary: false },
      ]),
    );
    expect(diff.additions).toBe(2);
    expect(diff.patch).toContain("+four");
    expect(diff.patch).toContain("Binary files /dev/null and b/bin.dat differ (binary file, 6 bytes)");

    await removeWorktree(dir, wt);
    expect(sh(dir, "worktree", "list")).not.toContain(wt);
    expect(sh(dir, "rev-parse", "loopy/run-test")).toBe(head);
  });

  it("adds and removes many worktrees of one repository at once, while another process adds worktrees too (a fleet's start)", async () => {
    const dir = await repo();
    const base = (await resolveCommit(dir, "HEAD"))!;
    const parent = await mkdtemp(path.join(tmpdir(), "loopy-wts-"));
    const ours = Array.from({ length: 40 }, (_, i) => path.join(parent, `run-${i}`));
    // Another worker: plain git, racing ours (its own attempts may lose; ours must not).
    const theirs = Array.from({ length: 40 }, (_, i) =>
      execFileAsync("git", ["worktree", "add", "-q", "-B", `other/${i}`, path.join(parent, `other-${i}`), base], { cwd: dir }).catch(() => undefined),
    );
    await Promise.all([...ours.map((wt, i) => addWorktree(dir, wt, `loopy/run-${i}`, base)), ...theirs]);
    for (const wt of ours) expect(existsSync(path.join(wt, "a.txt"))).toBe(true);
    await Promise.all(ours.map((wt) => removeWorktree(dir, wt)));
    const listed = sh(dir, "worktree", "list", "--porcelain");
    for (const wt of ours) expect(listed).not.toContain(`${wt}\n`);
    for (const wt of ours) expect(existsSync(wt)).toBe(false);
  });

  it("commits nothing when nothing changed, and counts commits the agent made itself", async () => {
    const dir = await repo();
    const base = (await resolveCommit(dir, "HEAD"))!;
    const wt = path.join(await mkdtemp(path.join(tmpdir(), "loopy-wt-")), "run");
    await addWorktree(dir, wt, "loopy/run-empty", base);
    expect(await commitAll(wt, "nothing")).toBe(base);
    await writeFile(path.join(wt, "self.txt"), "committed by the agent\n");
    sh(wt, "add", "self.txt");
    sh(wt, "-c", "user.name=a", "-c", "user.email=a@a", "commit", "-q", "-m", "agent commit");
    const head = await commitAll(wt, "loopy");
    expect(head).not.toBe(base);
    expect((await diffCommits(dir, base, head)).files.map((f) => f.path)).toEqual(["self.txt"]);
  });

  it("never runs repository hooks", async () => {
    const dir = await repo();
    await writeFile(path.join(dir, ".git/hooks/post-checkout"), "#!/bin/sh\ntouch \"$(git rev-parse --git-common-dir)/hook-ran\"\n", { mode: 0o755 });
    const wt = path.join(await mkdtemp(path.join(tmpdir(), "loopy-wt-")), "run");
    await addWorktree(dir, wt, "loopy/run-hooks", (await resolveCommit(dir, "HEAD"))!);
    expect(existsSync(path.join(dir, ".git/hook-ran"))).toBe(false);
  });
});

import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { inspectRepo, resolveCommit } from "./git.ts";
import {
  agentGitTampering,
  BranchMovedError,
  createWorkspace,
  removeWorkspace,
  resetWorkspace,
  snapshotWorkspace,
  type Workspace,
} from "../projects/workspace.ts";
import { diffCommits } from "./diff.ts";

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

describe("workspace, commit and diff", () => {
  const ws = async (dir: string, branch: string): Promise<Workspace> => ({
    repo: dir,
    dir: path.join(await mkdtemp(path.join(tmpdir(), "loopy-wt-")), "run"),
    branch,
  });

  it("isolates changes on the run's branch and diffs them against the base", async () => {
    const dir = await repo();
    const base = (await resolveCommit(dir, "trunk"))!;
    expect(base).toMatch(/^[0-9a-f]{40}$/);
    expect(await resolveCommit(dir, "no-such-branch")).toBeNull();
    expect(await resolveCommit(dir, "--all")).toBeNull();

    const w = await ws(dir, "loopy/run-test");
    await createWorkspace(w, base);
    // The agent sees an ordinary repository on its branch, clean.
    expect(sh(w.dir, "status", "--porcelain")).toBe("");
    expect(sh(w.dir, "rev-parse", "--abbrev-ref", "HEAD")).toBe("loopy/run-test");
    await writeFile(path.join(w.dir, "a.txt"), "one\n2\nthree\nfour\n");
    await writeFile(path.join(w.dir, "bin.dat"), Buffer.from([0, 1, 2, 3, 0, 255]));
    await rename(path.join(w.dir, "move-me.txt"), path.join(w.dir, "moved.txt"));
    const { sha: head, changed } = await snapshotWorkspace(w, { parent: base, message: "loopy: test" });
    expect(changed).toBe(true);
    expect(head).not.toBe(base);
    // The main checkout is untouched, and the repository knows no worktree.
    expect(sh(dir, "status", "--porcelain")).toBe("");
    expect(sh(dir, "worktree", "list")).not.toContain(w.dir);
    expect(sh(dir, "rev-parse", "loopy/run-test")).toBe(head);
    expect(sh(dir, "rev-parse", `${head}^`)).toBe(base);
    // The agent's view follows: clean again at Loopy's commit.
    expect(sh(w.dir, "status", "--porcelain")).toBe("");
    expect(sh(w.dir, "rev-parse", "HEAD")).toBe(head);

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

    await removeWorkspace(dir, w.dir);
    expect(existsSync(w.dir)).toBe(false);
    expect(sh(dir, "rev-parse", "loopy/run-test")).toBe(head);
  });

  it("makes and removes many workspaces of one repository at once (a fleet's start)", async () => {
    const dir = await repo();
    const base = (await resolveCommit(dir, "HEAD"))!;
    const parent = await mkdtemp(path.join(tmpdir(), "loopy-wts-"));
    const ours = Array.from({ length: 40 }, (_, i) => ({
      repo: dir,
      dir: path.join(parent, `run-${i}`),
      branch: `loopy/run-${i}`,
    }));
    await Promise.all(ours.map((w) => createWorkspace(w, base)));
    for (const w of ours) expect(existsSync(path.join(w.dir, "a.txt"))).toBe(true);
    await Promise.all(ours.map((w) => removeWorkspace(dir, w.dir)));
    for (const w of ours) expect(existsSync(w.dir)).toBe(false);
  });

  it("commits nothing when nothing changed, and takes the files of commits the agent made itself (not its history)", async () => {
    const dir = await repo();
    const base = (await resolveCommit(dir, "HEAD"))!;
    const w = await ws(dir, "loopy/run-empty");
    await createWorkspace(w, base);
    expect(await snapshotWorkspace(w, { parent: base, message: "nothing" })).toEqual({
      sha: base,
      changed: false,
      rewritten: [],
    });
    await writeFile(path.join(w.dir, "self.txt"), "committed by the agent\n");
    sh(w.dir, "add", "self.txt");
    sh(w.dir, "commit", "-q", "-m", "agent commit");
    const { sha: head } = await snapshotWorkspace(w, { parent: base, message: "loopy" });
    expect(head).not.toBe(base);
    expect(sh(dir, "rev-parse", `${head}^`)).toBe(base);
    expect((await diffCommits(dir, base, head)).files.map((f) => f.path)).toEqual(["self.txt"]);
  });

  it("never lets the agent's git steer Loopy's: HEAD pointed at main, fsmonitor, hooks, a .git that points elsewhere", async () => {
    const dir = await repo();
    const base = (await resolveCommit(dir, "HEAD"))!;
    const w = await ws(dir, "loopy/run-hostile");
    await createWorkspace(w, base);
    const marker = path.join(path.dirname(w.dir), "fsmonitor-ran");
    // What a hostile agent does in its checkout: HEAD onto the default branch, a config that runs a program, hooks.
    await writeFile(path.join(w.dir, ".git", "HEAD"), "ref: refs/heads/trunk\n");
    await writeFile(path.join(w.dir, ".git", "config"), `[core]\n\tfsmonitor = touch ${marker}\n\thooksPath = hooks\n`);
    await writeFile(path.join(w.dir, "a.txt"), "changed\n");
    expect(agentGitTampering(w)).toContain("moved HEAD off loopy/run-hostile");
    const { sha } = await snapshotWorkspace(w, { parent: base, message: "turn" });
    expect(sh(dir, "rev-parse", "trunk")).toBe(base);
    expect(sh(dir, "rev-parse", "loopy/run-hostile")).toBe(sha);
    expect(existsSync(marker)).toBe(false);
    // The agent's .git was made afresh: its config and HEAD are gone.
    expect(agentGitTampering(w)).toBeNull();

    // A .git that is a file pointing at another repository (a linked worktree's form) is ignored too.
    await rm(path.join(w.dir, ".git"), { recursive: true });
    await writeFile(path.join(w.dir, ".git"), `gitdir: ${path.join(dir, ".git")}\n`);
    await writeFile(path.join(w.dir, "b.txt"), "new\n");
    const next = await snapshotWorkspace(w, { parent: sha, message: "turn 2" });
    expect(sh(dir, "rev-parse", "trunk")).toBe(base);
    expect(sh(dir, "show", "--name-only", "--format=", next.sha)).toBe("b.txt");

    // Loopy's branch moved by someone else: nothing is committed on it.
    sh(dir, "update-ref", "refs/heads/loopy/run-hostile", base);
    await writeFile(path.join(w.dir, "c.txt"), "more\n");
    await expect(snapshotWorkspace(w, { parent: next.sha, message: "turn 3" })).rejects.toBeInstanceOf(
      BranchMovedError,
    );
    expect(sh(dir, "rev-parse", "loopy/run-hostile")).toBe(base);
  });

  it("rewrites file content before it is committed (a secret's value never reaches the repository)", async () => {
    const dir = await repo();
    const base = (await resolveCommit(dir, "HEAD"))!;
    const w = await ws(dir, "loopy/run-secret");
    await createWorkspace(w, base);
    await writeFile(path.join(w.dir, "leak.txt"), "key=sk-live-1234567890\n");
    const { sha, rewritten } = await snapshotWorkspace(w, {
      parent: base,
      message: "turn",
      rewrite: (_file, content) => Buffer.from(content.toString().replaceAll("sk-live-1234567890", "[redacted:KEY]")),
    });
    expect(rewritten).toEqual(["leak.txt"]);
    expect(sh(dir, "show", `${sha}:leak.txt`)).toBe("key=[redacted:KEY]");
    expect(sh(dir, "log", "-p", "--all")).not.toContain("sk-live-1234567890");
  });

  it("resets the workspace to a commit: files back, new files gone, ignored files kept, symlinks not followed", async () => {
    const dir = await repo();
    const base = (await resolveCommit(dir, "HEAD"))!;
    const w = await ws(dir, "loopy/run-reset");
    await createWorkspace(w, base);
    const outside = await mkdtemp(path.join(tmpdir(), "loopy-outside-"));
    await writeFile(path.join(outside, "keep.txt"), "keep\n");
    await writeFile(path.join(w.dir, ".gitignore"), "cache/\n");
    await mkdir(path.join(w.dir, "cache"));
    await writeFile(path.join(w.dir, "cache", "x"), "cached\n");
    const { sha } = await snapshotWorkspace(w, { parent: base, message: "ignore cache" });
    await writeFile(path.join(w.dir, "a.txt"), "broken\n");
    await writeFile(path.join(w.dir, "new.txt"), "new\n");
    await symlink(outside, path.join(w.dir, "link"));
    await resetWorkspace(w, sha);
    expect(await readFile(path.join(w.dir, "a.txt"), "utf8")).toBe("one\ntwo\nthree\n");
    expect(existsSync(path.join(w.dir, "new.txt"))).toBe(false);
    expect(existsSync(path.join(w.dir, "link"))).toBe(false);
    expect(existsSync(path.join(w.dir, "cache", "x"))).toBe(true);
    expect(await readFile(path.join(outside, "keep.txt"), "utf8")).toBe("keep\n");
    expect(sh(dir, "rev-parse", "loopy/run-reset")).toBe(sha);
  });

  it("never runs repository hooks", async () => {
    const dir = await repo();
    await writeFile(
      path.join(dir, ".git/hooks/post-checkout"),
      '#!/bin/sh\ntouch "$(git rev-parse --git-common-dir)/hook-ran"\n',
      { mode: 0o755 },
    );
    const w = await ws(dir, "loopy/run-hooks");
    await createWorkspace(w, (await resolveCommit(dir, "HEAD"))!);
    await writeFile(path.join(w.dir, "a.txt"), "x\n");
    await snapshotWorkspace(w, { parent: (await resolveCommit(dir, "HEAD"))!, message: "x" });
    expect(existsSync(path.join(dir, ".git/hook-ran"))).toBe(false);
  });
});

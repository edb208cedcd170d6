import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runProcess } from "./process.ts";
import { sandboxStatus, type SandboxPolicy } from "./sandbox.ts";

const status = await sandboxStatus();

/** Host pids of processes whose command line contains `marker`. */
async function processesWith(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.split("\u0000").join(" ").includes(marker)) pids.push(Number(entry));
  }
  return pids;
}

/**
 * A repository (not under /tmp, which is private inside) and a workspace under a LOOPY_HOME, as a run
 * has: a folder with a `.git` of its own that borrows the repository's objects (core's workspace.ts
 * makes it with plain files; `git clone --shared` makes the same here); a file outside both.
 */
async function setUp() {
  const home = await mkdtemp(path.join(tmpdir(), "loopy-sbx-home-"));
  const repo = await mkdtemp(path.join("/var/tmp", "loopy-sbx-repo-"));
  const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, stdio: "pipe" }).toString().trim();
  git(repo, "init", "-q", "-b", "main");
  await writeFile(path.join(repo, "README.md"), "hello\n");
  git(repo, "add", "-A");
  git(repo, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "initial");
  const worktree = path.join(home, "worktrees", "r1");
  await mkdir(path.dirname(worktree), { recursive: true });
  git(repo, "clone", "-q", "--shared", "--no-hardlinks", repo, worktree);
  git(worktree, "checkout", "-q", "-B", "loopy/run-r1");
  await writeFile(path.join(home, "master.key"), "the master key\n", { mode: 0o600 });
  const outsideDir = await mkdtemp(path.join("/var/tmp", "loopy-sbx-outside-"));
  const outside = path.join(outsideDir, "file.txt");
  await writeFile(outside, "original\n");
  const state = path.join(home, "agent-state", "r1");
  const policy: SandboxPolicy = {
    mode: "on",
    hide: [home],
    writable: [state],
    readOnly: [path.join(repo, ".git", "objects")],
  };
  return { home, repo, worktree, outside, state, policy, git };
}

async function sh(command: string, cwd: string, policy: SandboxPolicy, timeoutMs = 20_000) {
  const lines: string[] = [];
  const result = await runProcess({
    shellCommand: command,
    cwd,
    sandbox: policy,
    timeoutMs,
    killGraceMs: 500,
    onLine: (_, l) => lines.push(l),
  });
  return { ...result, output: lines.join("\n") };
}

describe.skipIf(!status.ok)(`bubblewrap sandbox${status.ok ? "" : ` (SKIPPED: ${status.reason})`}`, () => {
  it("a command that writes outside its worktree fails and the file is untouched; inside works", async () => {
    const s = await setUp();
    const denied = await sh(`echo pwned > ${s.outside}`, s.worktree, s.policy);
    expect(denied.exitCode).not.toBe(0);
    expect(denied.output).toMatch(/Read-only file system/);
    expect(await readFile(s.outside, "utf8")).toBe("original\n");
    // The user's own checkout is out of reach too (here under /tmp, so the write lands in the private /tmp).
    await sh(`echo pwned >> ${path.join(s.repo, "README.md")}`, s.worktree, s.policy);
    expect(await readFile(path.join(s.repo, "README.md"), "utf8")).toBe("hello\n");

    const allowed = await sh(
      `echo inside > made.txt && mkdir -p sub && echo x > sub/y && echo "$HOME" > /dev/null && echo state > "${s.state}/note" && echo tmp > /tmp/t && cat /tmp/t`,
      s.worktree,
      s.policy,
    );
    expect(allowed).toMatchObject({ exitCode: 0, output: "tmp" });
    expect(await readFile(path.join(s.worktree, "made.txt"), "utf8")).toBe("inside\n");
    expect(await readFile(path.join(s.state, "note"), "utf8")).toBe("state\n");
  });

  it("a program installed under /tmp (hidden by the private /tmp) still runs: its node_modules tree is visible, read-only", async () => {
    const { worktree, policy } = await setUp();
    const install = await mkdtemp(path.join(tmpdir(), "loopy-sbx-install-"));
    const bin = path.join(install, "node_modules", "some-cli", "bin", "some-cli");
    await mkdir(path.dirname(bin), { recursive: true });
    await writeFile(path.join(install, "node_modules", "some-cli", "data.txt"), "shipped with the package\n");
    await writeFile(
      bin,
      `#!/bin/sh\ncat "${path.join(install, "node_modules", "some-cli", "data.txt")}"\necho changed > "${path.join(install, "node_modules", "some-cli", "data.txt")}" || echo read-only\n`,
      { mode: 0o755 },
    );
    await writeFile(path.join(install, "beside.txt"), "not part of the package\n");
    const lines: string[] = [];
    const result = await runProcess({
      argv: [bin],
      cwd: worktree,
      sandbox: policy,
      timeoutMs: 10_000,
      onLine: (_, l) => lines.push(l),
    });
    expect(result.exitCode, `${JSON.stringify(result)} ${lines.join("\n")}`).toBe(0);
    expect(lines).toContain("shipped with the package");
    expect(lines).toContain("read-only");
    expect(await readFile(path.join(install, "node_modules", "some-cli", "data.txt"), "utf8")).toBe(
      "shipped with the package\n",
    );
    // Only the package tree, not the rest of the temporary folder it is in.
    const peek = await runProcess({
      shellCommand: `cat "${path.join(install, "beside.txt")}"`,
      cwd: worktree,
      sandbox: policy,
      timeoutMs: 10_000,
      onLine: () => {},
    });
    expect(peek.exitCode).not.toBe(0);
  });

  it("git commit works in the workspace's own .git, while the project's refs, config, hooks and objects stay read-only", async () => {
    const s = await setUp();
    const commit = await sh(
      "echo change > a.txt && git add -A && git -c user.name=Agent -c user.email=a@example.com commit -q -m 'agent commit' && git log --oneline -1",
      s.worktree,
      s.policy,
    );
    expect(commit.exitCode, commit.output).toBe(0);
    const common = path.join(s.repo, ".git");
    for (const attempt of [
      `echo 'exit 0' > ${common}/hooks/pre-commit`,
      `git --git-dir=${common} config core.hooksPath /tmp`,
      `git --git-dir=${common} config core.fsmonitor 'touch /var/tmp/x'`,
      `git --git-dir=${common} update-ref refs/heads/main HEAD`,
      `git --git-dir=${common} branch elsewhere`,
      `echo 'ref: refs/heads/x' > ${common}/HEAD`,
      `f=$(find ${common}/objects -type f -path '*/[0-9a-f][0-9a-f]/*' | head -n1); chmod u+w "$f" && echo x > "$f"`,
      `touch ${common}/objects/new-file`,
    ]) {
      const r = await sh(attempt, s.worktree, s.policy);
      expect(r.exitCode, attempt).not.toBe(0);
    }
    expect(await readFile(path.join(common, "config"), "utf8")).not.toMatch(/hooksPath|fsmonitor/);
    expect(s.git(s.repo, "log", "-1", "--format=%s", "main")).toBe("initial");
    expect(s.git(s.repo, "fsck", "--no-dangling")).toBe("");
  }, 30_000);

  it("has a network of its own: the machine's services are out of reach", async () => {
    const s = await setUp();
    const { createServer } = await import("node:net");
    const server = createServer((socket) => socket.end("hello\n"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const probe = `timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port} && head -n1 <&3'`;
      expect((await sh(probe, s.worktree, { mode: "off" })).output).toBe("hello");
      const inside = await sh(probe, s.worktree, s.policy);
      expect(inside.exitCode).not.toBe(0);
      expect(inside.output).not.toContain("hello");
    } finally {
      server.close();
    }
  });

  it("hides LOOPY_HOME (the master key, other runs) and the worker's processes", async () => {
    const s = await setUp();
    const r = await sh(
      `cat ${path.join(s.home, "master.key")}; ls ${path.join(s.home)}; kill -0 ${process.pid} && echo worker-visible; echo done`,
      s.worktree,
      s.policy,
    );
    expect(r.output).not.toContain("the master key");
    expect(r.output).not.toContain("worker-visible");
    expect(r.output).toContain("done");
  });

  it("a timeout still kills the whole process group inside the sandbox", async () => {
    const s = await setUp();
    const marker = `${31_000 + Math.floor(Math.random() * 900)}`;
    const started = Date.now();
    const r = await sh(
      `sleep ${marker}1 & (sleep ${marker}2; echo never) & sleep ${marker}3`,
      s.worktree,
      s.policy,
      800,
    );
    expect(r.timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    const deadline = Date.now() + 3_000;
    let left = await processesWith(`sleep ${marker}`);
    while (left.length && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 50));
      left = await processesWith(`sleep ${marker}`);
    }
    expect(left).toEqual([]);
  });

  it("a cancel kills it too", async () => {
    const s = await setUp();
    const marker = `${32_000 + Math.floor(Math.random() * 900)}`;
    const controller = new AbortController();
    const running = runProcess({
      shellCommand: `sleep ${marker}1 & sleep ${marker}2`,
      cwd: s.worktree,
      sandbox: s.policy,
      timeoutMs: 60_000,
      killGraceMs: 500,
      signal: controller.signal,
      onLine: () => undefined,
    });
    for (let i = 0; i < 100 && (await processesWith(`sleep ${marker}`)).length < 2; i++)
      await new Promise((res) => setTimeout(res, 50));
    controller.abort();
    expect((await running).cancelled).toBe(true);
    await new Promise((res) => setTimeout(res, 300));
    expect(await processesWith(`sleep ${marker}`)).toEqual([]);
  });
});

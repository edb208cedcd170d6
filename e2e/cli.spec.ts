import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, test } from "./fixtures";
import { loopy, makeRepo } from "./helpers";

test.describe.configure({ mode: "serial" });

const repo = makeRepo({ "greeting.txt": "hello\n" });
const name = `cli-${path.basename(repo)}`;

test("the CLI registers a project, runs a command, waits, and shows logs and diff", async ({ baseURL }) => {
  const url = baseURL!;
  const added = loopy(url, "project", "add", repo, "--name", name, "--json");
  expect(added.code, added.stderr).toBe(0);
  expect(JSON.parse(added.stdout)).toMatchObject({ name, path: repo, defaultBranch: "main" });

  const projects = loopy(url, "projects");
  expect(projects.stdout).toContain(name);

  const run = loopy(
    url,
    "run",
    "--project",
    name,
    "--command",
    "echo cli-line; echo bye > greeting.txt",
    "--wait",
    "--json",
  );
  expect(run.code, run.stderr).toBe(0);
  const doc = JSON.parse(run.stdout);
  expect(doc).toMatchObject({ status: "awaiting_review", exitCode: 0 });
  expect(doc.id).toMatch(/^[a-z0-9]{10}$/);

  const logs = loopy(url, "logs", doc.id);
  expect(logs.stdout).toContain("cli-line");
  const diff = loopy(url, "diff", doc.id);
  expect(diff.stdout).toContain("-hello");
  expect(diff.stdout).toContain("+bye");
  const show = JSON.parse(loopy(url, "show", doc.id, "--json").stdout);
  expect(show).toMatchObject({ id: doc.id, status: "awaiting_review" });
  const runs = JSON.parse(loopy(url, "runs", "--json").stdout) as Array<{ id: string }>;
  expect(runs.map((r) => r.id)).toContain(doc.id);
});

test("the CLI follows a live run, cancels another, and fails loudly on bad input", async ({ baseURL }) => {
  const url = baseURL!;
  const failing = loopy(url, "run", "--project", name, "--command", "exit 2", "--wait");
  expect(failing.code).toBe(3);
  expect(failing.stderr).toContain("command exited with code 2");

  const started = JSON.parse(loopy(url, "run", "--project", name, "--command", "echo tick; sleep 60", "--json").stdout);
  // `logs --follow` streams the running run; a second CLI cancels it; the follower then exits 0.
  const follower = spawn(path.resolve("node_modules/.bin/loopy"), ["logs", started.id, "--follow"], {
    env: { ...process.env, LOOPY_URL: url, LOOPY_HOME: process.env.E2E_LOOPY_HOME },
  });
  let followed = "";
  const sawTick = new Promise<void>((resolve) =>
    follower.stdout.on("data", (chunk: Buffer) => {
      followed += chunk.toString();
      if (followed.includes("tick")) resolve();
    }),
  );
  const exited = new Promise<number | null>((resolve) => follower.on("exit", (code) => resolve(code)));
  await sawTick;
  const cancel = loopy(url, "cancel", started.id, "--json");
  expect(cancel.code, cancel.stderr).toBe(0);
  expect(await exited).toBe(0);
  expect(followed).toContain("cancelled");

  const notRepo = loopy(url, "project", "add", mkdtempSync(path.join(tmpdir(), "loopy-cli-plain-")));
  expect(notRepo.code).toBe(1);
  expect(notRepo.stderr.trim().split("\n")).toHaveLength(1);
  expect(notRepo.stderr).toContain("is not a git repository");

  const badBase = loopy(url, "run", "--project", name, "--command", "true", "--base", "nope");
  expect(badBase.code).toBe(1);
  expect(badBase.stderr).toContain('Base ref "nope" does not exist');

  const unreachable = loopy("http://127.0.0.1:9", "projects");
  expect(unreachable.code).toBe(1);
  expect(unreachable.stderr).toContain("cannot reach Loopy");

  const usage = loopy(url, "frobnicate");
  expect(usage.code).toBe(2);
});

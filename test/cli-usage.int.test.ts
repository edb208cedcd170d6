import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const exec = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The built `loopy` binary, with no Loopy behind it: usage is checked before anything is sent. */
const loopy = async (...args: string[]) => {
  try {
    const { stdout, stderr } = await exec(process.execPath, [path.join(root, "packages/cli/bin/loopy.js"), ...args], {
      env: { PATH: process.env.PATH ?? "", LOOPY_URL: "http://127.0.0.1:9", LOOPY_TOKEN: "loopy_tok_unused" },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

describe("loopy: each command takes only its own options", () => {
  it("refuses an option of another command with exit 2 and a hint (loopy run --metric x)", async () => {
    const result = await loopy("run", "--project", "p", "--command", "true", "--metric", "x");
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      "loopy: unknown option --metric for `loopy run`\n" +
        "--metric is an option of `loopy research`, `loopy fleet launch`. See loopy run --help.\n",
    );
    const typo = await loopy("run", "--project", "p", "--tiemout", "5m");
    expect(typo).toMatchObject({ code: 2, stderr: expect.stringContaining("Did you mean --timeout?") });
  }, 90_000);

  it("prints a command's help from its declarations (loopy run --help, loopy help run) and lists commands", async () => {
    const help = await loopy("run", "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: loopy run --project P \[options\]/);
    expect(help.stdout).toMatch(/--secret NAME\s+a stored secret .*\(repeatable\)/);
    expect((await loopy("help", "run")).stdout).toBe(help.stdout);
    const all = await loopy("--help");
    expect(all.code).toBe(0);
    expect(all.stdout).toContain("loopy fleet launch --project P --count N [options]");
    expect((await loopy("help", "review")).stdout).toContain("loopy review approve <run-id> [options]");
  }, 90_000);

  it("keeps the other errors as they were: exit 1 for a Loopy it cannot reach", async () => {
    const result = await loopy("runs", "--limit", "3");
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^loopy: cannot reach Loopy at http:\/\/127.0.0.1:9/);
    expect((await loopy("runs", "--limit", "many")).code).toBe(2);
  }, 90_000);
});

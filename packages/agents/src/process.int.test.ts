import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runProcess } from "./process.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pids: number[], ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pids.every((p) => !alive(p))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe("runProcess (real child processes)", () => {
  it("streams stdout and stderr line by line and reports the exit code", async () => {
    const lines: string[] = [];
    const result = await runProcess({
      shellCommand: "echo one; echo two >&2; printf 'no newline'; exit 7",
      cwd: tmpdir(),
      timeoutMs: 10_000,
      onLine: (stream, line) => lines.push(`${stream}:${line}`),
    });
    expect(result.exitCode).toBe(7);
    expect(result.timedOut).toBe(false);
    expect(lines).toEqual(expect.arrayContaining(["stdout:one", "stderr:two", "stdout:no newline"]));
    expect(lines.indexOf("stdout:one")).toBeLessThan(lines.indexOf("stdout:no newline"));
  });

  it("kills the whole process group when the timeout passes, children included", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "loopy-proc-"));
    const started = Date.now();
    const result = await runProcess({
      shellCommand: `sleep 300 & echo $! > child.pid; (sleep 301; echo never) & echo $! > sub.pid; sleep 302`,
      cwd: dir,
      timeoutMs: 700,
      killGraceMs: 500,
      onLine: () => undefined,
    });
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBeNull();
    expect(Date.now() - started).toBeLessThan(5000);
    const pids = [
      Number(await readFile(path.join(dir, "child.pid"), "utf8")),
      Number(await readFile(path.join(dir, "sub.pid"), "utf8")),
    ];
    expect(await waitGone(pids)).toBe(true);
  });

  it("ends when the command exits, even if a background child keeps its output open, and kills that child", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "loopy-proc-"));
    const started = Date.now();
    const result = await runProcess({
      shellCommand: "sleep 300 & echo $! > bg.pid; echo started",
      cwd: dir,
      timeoutMs: 20_000,
      onLine: () => undefined,
    });
    expect(result).toMatchObject({ exitCode: 0, timedOut: false });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await waitGone([Number(await readFile(path.join(dir, "bg.pid"), "utf8"))])).toBe(true);
  });

  it("keeps multi-byte characters whole across chunks", async () => {
    const lines: string[] = [];
    await runProcess({
      shellCommand: "for i in $(seq 1 3000); do printf 'é'; done; echo",
      cwd: tmpdir(),
      timeoutMs: 10_000,
      onLine: (_, l) => lines.push(l),
    });
    expect(lines).toEqual(["é".repeat(3000)]);
  });

  it("escalates to SIGKILL for a command that ignores SIGTERM", async () => {
    const result = await runProcess({
      shellCommand: `trap '' TERM; sleep 300 & wait`,
      cwd: tmpdir(),
      timeoutMs: 300,
      killGraceMs: 300,
      onLine: () => undefined,
    });
    expect(result.timedOut).toBe(true);
    expect(result.durationMs).toBeLessThan(5000);
  });

  it("stops on abort and says it was cancelled", async () => {
    const controller = new AbortController();
    const lines: string[] = [];
    const pending = runProcess({
      shellCommand: "echo started; sleep 300",
      cwd: tmpdir(),
      timeoutMs: 60_000,
      signal: controller.signal,
      onLine: (_, line) => {
        lines.push(line);
        if (line === "started") controller.abort();
      },
    });
    const result = await pending;
    expect(result.cancelled).toBe(true);
    expect(result.timedOut).toBe(false);
    expect(lines).toEqual(["started"]);
  });

  it("cuts runaway lines instead of storing them whole", async () => {
    const lines: string[] = [];
    await runProcess({
      shellCommand: "head -c 50000 /dev/zero | tr '\\0' x; echo",
      cwd: tmpdir(),
      timeoutMs: 10_000,
      maxLineLength: 1000,
      onLine: (_, line) => lines.push(line),
    });
    expect(lines.every((l) => l.length < 1100)).toBe(true);
    expect(lines[0]).toMatch(/more characters cut/);
  });

  it("does not pass Loopy's own secrets to the command", async () => {
    process.env.LOOPY_TEST_SECRET = "s3cret";
    const lines: string[] = [];
    await runProcess({
      shellCommand: 'echo "[$LOOPY_TEST_SECRET][$EXTRA]"',
      cwd: tmpdir(),
      env: { EXTRA: "x" },
      timeoutMs: 5000,
      onLine: (_, l) => lines.push(l),
    });
    delete process.env.LOOPY_TEST_SECRET;
    expect(lines).toEqual(["[][x]"]);
  });
});

import { spawn, type ChildProcess } from "node:child_process";
import { describe, expect, it } from "vitest";
import { supervise } from "./supervisor.ts";

const node = (code: string) => () => spawn(process.execPath, ["-e", code], { stdio: "ignore" });
const until = async (check: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
};
const exited = (child: ChildProcess) =>
  new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r)));

describe("supervise", () => {
  it("restarts a child that keeps crashing with a doubling delay, then gives up with the reason", async () => {
    const logs: string[] = [];
    const starts: number[] = [];
    let gaveUp: string | undefined;
    const s = supervise({
      name: "worker",
      start: node("process.exit(3)"),
      onStart: () => starts.push(Date.now()),
      initialDelayMs: 100,
      maxDelayMs: 250,
      maxFastCrashes: 3,
      log: (m) => logs.push(m),
      onGiveUp: (how) => (gaveUp = how),
    });
    await until(() => gaveUp !== undefined);
    expect(gaveUp).toBe("exited with code 3");
    expect(starts).toHaveLength(4);
    expect(s.restarts()).toBe(3);
    // 100, 200, then capped at 250 ms (plus the time each child takes to start and exit).
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(100);
    expect(gaps[1]).toBeGreaterThanOrEqual(200);
    expect(gaps[2]).toBeGreaterThanOrEqual(250);
    expect(
      logs.slice(0, 3).every((l) => /^worker exited with code 3 after [\d.]+ s; restarting it in [\d.]+ s$/.test(l)),
    ).toBe(true);
    expect(logs[3]).toMatch(
      /^worker exited with code 3 after [\d.]+ s; it crashed 4 times in a row, each within 60 s of starting, so it is not restarted again$/,
    );
    await new Promise((r) => setTimeout(r, 400));
    expect(starts).toHaveLength(4);
    await s.stop();
  });

  it("a child that was up long enough counts as healthy: killed again and again, it is always restarted, after the first delay", async () => {
    const logs: string[] = [];
    const s = supervise({
      name: "web",
      start: node("setInterval(() => {}, 1000)"),
      initialDelayMs: 50,
      healthyAfterMs: 300,
      maxFastCrashes: 1,
      log: (m) => logs.push(m),
    });
    for (let i = 0; i < 3; i++) {
      await until(() => s.current() !== undefined);
      const child = s.current()!;
      await new Promise((r) => setTimeout(r, 350));
      child.kill("SIGKILL");
      await exited(child);
      await until(() => s.current() !== undefined && s.current() !== child);
    }
    expect(s.restarts()).toBe(3);
    expect(logs).toHaveLength(3);
    for (const line of logs) expect(line).toMatch(/^web killed by SIGKILL after [\d.]+ s; restarting it in 0.1 s$/);
    const last = s.current()!;
    await s.stop(2_000);
    expect(last.signalCode).toBe("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    expect(s.current()).toBeUndefined();
    expect(s.restarts()).toBe(3);
  });

  it("does not restart a child that exits after hold() (a Ctrl-C reaches the children too)", async () => {
    const logs: string[] = [];
    const s = supervise({
      name: "worker",
      start: node("setInterval(() => {}, 1000)"),
      initialDelayMs: 50,
      log: (m) => logs.push(m),
    });
    await until(() => s.current()?.pid !== undefined);
    const child = s.current()!;
    s.hold();
    child.kill("SIGTERM");
    await exited(child);
    await new Promise((r) => setTimeout(r, 200));
    expect(s.restarts()).toBe(0);
    expect(logs).toEqual([]);
  });
});

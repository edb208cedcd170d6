import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, eventually, makeRepo, type Harness } from "./harness.ts";

const exec = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** `loopy fleet` as the real CLI process against the API over HTTP and SSE. */
describe("loopy fleet CLI", () => {
  let h: Harness;
  let url: string;
  let project: string;
  let token: string;

  beforeAll(async () => {
    h = await createHarness();
    ({ url, token } = await h.serveApi("operator"));
    const repo = await makeRepo();
    project = (await h.api.projects.add({ path: repo, name: `fleet-cli-${path.basename(repo)}` })).name;
    await h.startWorker(4);
  });
  afterAll(async () => {
    await h?.close();
  });

  const loopy = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await exec(process.execPath, [path.join(root, "packages/cli/bin/loopy.js"), ...args], {
        env: { PATH: process.env.PATH ?? "", LOOPY_URL: url, LOOPY_TOKEN: token },
        timeout: 60_000,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it("launches a fleet and waits for it, shows it ranked, and refuses bad input on one line", async () => {
    const launched = await loopy(
      "fleet",
      "launch",
      "--project",
      project,
      "--agent",
      "command",
      "--command",
      "seq 0 $LOOPY_MEMBER_INDEX > out.txt",
      "--count",
      "3",
      "--concurrency",
      "2",
      "--wait",
      "--json",
    );
    expect(launched.stderr).toBe("");
    expect(launched.code).toBe(0);
    const fleet = JSON.parse(launched.stdout) as {
      id: string;
      status: string;
      members: Array<{ memberIndex: number; status: string; rank: number }>;
    };
    expect(fleet.status).toBe("completed");
    expect(fleet.members.map((m) => [m.memberIndex, m.status, m.rank])).toEqual([
      [0, "awaiting_review", 1],
      [1, "awaiting_review", 2],
      [2, "awaiting_review", 3],
    ]);

    const shown = await loopy("fleet", "show", fleet.id);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`fleet     ${fleet.id}`);
    expect(shown.stdout).toContain("progress  3/3 finished");
    const table = shown.stdout.trim().split("\n").slice(-4);
    expect(table[0]).toMatch(/^RANK\s+#\s+RUN\s+STATUS\s+AGENT\s+CHECKS\s+DIFF\s+COST\s+TIME\s+PROJECT$/);
    expect(table[1]).toMatch(/^1\s+0\s+\S+\s+awaiting_review\s+command\s+-\s+\+1 -0/);

    const bad = await loopy("fleet", "launch", "--project", project, "--command", "true", "--count", "0");
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^loopy: Count must be a whole number from 1/),
    ]);
    const usage = await loopy("fleet", "launch", "--project", project, "--command", "true");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("missing --count");
    const missing = await loopy("fleet", "pause", "nope");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^loopy: No fleet "nope"/);
  }, 60_000);

  it("pauses, resumes and cancels by id", async () => {
    const launched = JSON.parse(
      (
        await loopy(
          "fleet",
          "launch",
          "--project",
          project,
          "--command",
          "sleep 20",
          "--count",
          "3",
          "--concurrency",
          "1",
          "--json",
        )
      ).stdout,
    ) as { id: string };
    const paused = await loopy("fleet", "pause", launched.id);
    expect(paused).toMatchObject({ code: 0, stdout: `Fleet ${launched.id} paused.\n` });
    const resumed = JSON.parse((await loopy("fleet", "resume", launched.id, "--json")).stdout) as { status: string };
    expect(resumed.status).toBe("running");
    await eventually(async () =>
      (await h.api.fleets.get({ fleetId: launched.id })).members.some((m) => m.status === "running") ? true : undefined,
    );
    const cancelled = await loopy("fleet", "cancel", launched.id);
    expect(cancelled).toMatchObject({
      code: 0,
      stdout: `Fleet ${launched.id} cancelled; running members are being stopped.\n`,
    });
    const fleet = await eventually(async () => {
      const f = await h.api.fleets.get({ fleetId: launched.id });
      return f.members.every((m) => m.status === "cancelled") ? f : undefined;
    }, 15_000);
    expect(fleet.status).toBe("cancelled");
    const list = await loopy("fleet", "list");
    expect(list.stdout).toMatch(new RegExp(`${launched.id}\\s+cancelled\\s+best_of_n\\s+3/3`));
  }, 60_000);

  it("prints a large --json document whole when stdout is a pipe (no cut at exit)", async () => {
    const launched = await loopy(
      "fleet",
      "launch",
      "--project",
      project,
      "--agent",
      "command",
      "--command",
      "true",
      "--count",
      "300",
      "--concurrency",
      "1",
      "--json",
    );
    expect(launched.code).toBe(0);
    expect(launched.stdout.length).toBeGreaterThan(200_000);
    const fleet = JSON.parse(launched.stdout) as { id: string; members: unknown[] };
    expect(fleet.members).toHaveLength(300);
    expect((await loopy("fleet", "cancel", fleet.id)).code).toBe(0);
  }, 120_000);
});

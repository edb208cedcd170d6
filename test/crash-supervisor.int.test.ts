import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { chmod, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createServices, type Services } from "@loopy/api/services";
import { createCaller, createContext } from "@loopy/api";
import { SYSTEM_ACTOR } from "@loopy/core/access/roles";
import { loadEnv } from "@loopy/config/env";
import { createTestDatabase } from "@loopy/db/test-database";
import { freePort } from "@loopy/embedded/processes";
import { eventually, makeRepo } from "./harness.ts";
import { alive, groupMembers, marks, root } from "./crash-helpers.ts";

/**
 * `npm start` (scripts/start.ts, for real: build, web, worker) on a fresh
 * database, the test run's Redis with a prefix of its own, and a temporary
 * LOOPY_HOME. The worker is killed with SIGKILL mid-run; the launcher starts
 * a new one, which takes the run over. Runs are launched through the
 * in-process API on the same database and Redis prefix.
 * The first start builds the web app (turbo cache), which can take a while.
 */
describe("crash safety: npm start supervises the worker", () => {
  let launcher: ChildProcess;
  let output = "";
  let env: Record<string, string>;
  let services: Services;
  let drop: () => Promise<void>;
  let home: string;
  let dir: string;

  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), "loopy-start-"));
    // A home others may enter: npm start tightens it.
    await chmod(home, 0o755);
    dir = await mkdtemp(path.join(tmpdir(), "loopy-start-marks-"));
    const database = await createTestDatabase(inject("databaseUrl"));
    drop = database.drop;
    env = {
      PORT: String(await freePort()),
      HOST: "127.0.0.1",
      LOOPY_HOME: home,
      DATABASE_URL: database.url,
      REDIS_URL: inject("redisUrl"),
      LOOPY_REDIS_PREFIX: `loopy-start-test-${randomBytes(3).toString("hex")}`,
      LOOPY_DEMO: "0",
      LOOPY_RUN_LEASE: "1500ms",
      LOOPY_SHUTDOWN_GRACE: "2s",
      // The command records marks outside its worktree, which bubblewrap rightly prevents (see test/secrets.int.test.ts).
      LOOPY_SANDBOX: "off",
    };
    launcher = spawn(process.execPath, ["--import", "tsx", path.join(root, "scripts", "start.ts")], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own group, so a failed test can take everything it started down with it.
      detached: true,
    });
    for (const stream of [launcher.stdout!, launcher.stderr!])
      stream.on("data", (chunk: Buffer) => (output += chunk.toString()));
    await eventually(
      async () => {
        if (launcher.exitCode !== null) throw new Error(`npm start exited (${launcher.exitCode}):\n${output}`);
        return output.includes("Loopy is ready") ? true : undefined;
      },
      280_000,
      "npm start to say it is ready",
    );
    services = createServices(loadEnv(env));
  }, 300_000);

  afterAll(async () => {
    if (launcher && launcher.exitCode === null && launcher.signalCode === null) {
      try {
        process.kill(-launcher.pid!, "SIGKILL");
      } catch {
        // gone
      }
    }
    await services?.close();
    await drop?.();
    await rm(home, { recursive: true, force: true });
  });

  const workerPid = () => Number(readFileSync(path.join(home, "worker.pid"), "utf8"));
  const settled = (api: ReturnType<typeof createCaller>, runId: string) =>
    eventually(
      async () => {
        const run = await api.runs.get({ runId });
        return ["queued", "running", "verifying"].includes(run.status) ? undefined : run;
      },
      60_000,
      `run ${runId} to settle`,
    );

  it("settles the home (0700) and the master key at start, and prints a one-time sign-in link, never the admin's token", async () => {
    expect((await stat(home)).mode & 0o777).toBe(0o700);
    expect(output).toContain(`Loopy home ${home} was mode 0755; now 0700`);
    expect((await stat(path.join(home, "master.key"))).mode & 0o777).toBe(0o600);
    expect(output).toContain(`created the master key ${path.join(home, "master.key")}`);
    expect(output).toMatch(/Sign in: {2}http:\/\/127\.0\.0\.1:\d+\/login#code=loopy_sic_/);
    expect(output).not.toContain(readFileSync(path.join(home, "token"), "utf8").trim());
  });

  it("a worker killed with SIGKILL is restarted and takes over the run it held; Ctrl-C (SIGTERM) then stops everything", async () => {
    const api = createCaller(createContext(services, SYSTEM_ACTOR));
    const repo = await makeRepo();
    const { name: project } = await api.projects.add({ path: repo, name: `start-${path.basename(repo)}` });
    const file = path.join(dir, "marks.txt");
    writeFileSync(file, "");
    const command = `echo "start $$" >> ${file}; if [ "$(grep -c start ${file})" = 1 ]; then sleep 60; fi; echo done > out.txt`;
    const { id: runId } = await api.runs.launch({ project, command, timeout: "2m" });
    await eventually(
      async () => ((await api.runs.get({ runId })).status === "running" && marks(file).length === 1 ? true : undefined),
      30_000,
      "the run to start",
    );

    const first = workerPid();
    expect(alive(first)).toBe(true);
    process.kill(first, "SIGKILL");
    const second = await eventually(
      async () => {
        const pid = workerPid();
        return pid !== first && alive(pid) ? pid : undefined;
      },
      20_000,
      "a new worker",
    );
    expect(output).toMatch(/loopy: worker killed by SIGKILL after [\d.]+ s; restarting it in 1 s/);

    // The restarted worker takes the run over: the orphaned command is killed, the turn runs again.
    const run = await settled(api, runId);
    expect(run.status).toBe("awaiting_review");
    expect(marks(file)).toHaveLength(2);
    expect(groupMembers(Number(marks(file)[0]!.split(" ")[1]))).toEqual([]);
    // And new runs go to it.
    const { id: next } = await api.runs.launch({ project, command: "echo again > again.txt" });
    expect((await settled(api, next)).status).toBe("awaiting_review");
    // The web stayed up throughout.
    expect((await fetch(`http://127.0.0.1:${env.PORT}/api/health`)).status).toBe(200);

    const exited = new Promise<number | null>((r) => launcher.once("exit", (code) => r(code)));
    launcher.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(alive(second)).toBe(false);
    expect(output).not.toMatch(/web (exited|killed)/);
  }, 120_000);
});

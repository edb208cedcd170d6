import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { sandboxStatus } from "@loopy/agents/sandbox";
import { startFakeModelServer, type FakeModelServer } from "@loopy/fake-models/server";
import { createHarness, eventually, gitIn, makeRepo, type Harness } from "./harness.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const status = await sandboxStatus();

/** Every attack test/fixtures/hostile-agent.sh makes; each must report "blocked". */
const ATTACKS = [
  "postgres-tcp",
  "redis-tcp",
  "web-tcp",
  "model-direct",
  "outside-ip",
  "proxy-to-postgres",
  "proxy-to-redis",
  "proxy-to-web",
  "proxy-to-unlisted-host",
  "unix-sockets",
  "docker-socket",
  "read-master-key",
  "read-admin-token",
  "other-runs-worktrees",
  "loopy-index",
  "worker-environ",
  "signal-worker",
  "project-head",
  "move-main",
  "new-branch",
  "other-run-branch",
  "project-config",
  "project-hook",
  "project-object",
  "project-checkout",
  "outside-file",
];

/**
 * Confinement against a hostile agent: one script (test/fixtures/hostile-agent.sh)
 * tries every way from an agent's process to Loopy's keys, refs and services,
 * run as a coding agent, as a checkpoint and as a research experiment, with
 * the sandbox on (as docker-compose runs it). Every attempt must fail, and
 * the legitimate work must still land.
 */
describe.skipIf(!status.ok)(`hostile agent${status.ok ? "" : ` (SKIPPED: ${status.ok ? "" : status.reason})`}`, () => {
  let h: Harness;
  let model: FakeModelServer;
  let allowed: Server;
  let webPort: number;
  let outsideFile: string;
  const savedDbUrl = process.env.DATABASE_URL;

  beforeAll(async () => {
    // As in a real worker, whose environment holds Loopy's database URL: a process that could read it would find it.
    process.env.DATABASE_URL = inject("databaseUrl");
    // Its own database: the secrets it stores must not show in other files' lists.
    h = await createHarness({ ownDatabase: true });
    model = await startFakeModelServer();
    allowed = createServer((_, res) => res.end("allowed\n"));
    await new Promise<void>((resolve) => allowed.listen(0, "127.0.0.1", resolve));
    webPort = new URL((await h.serveApi("admin")).url).port as unknown as number;
    // Loopy's keys in its home: the master key (made by storing a secret) and a CLI token file.
    await h.api.secrets.set({ name: "SOME_KEY", value: "some-stored-secret-value" });
    await writeFile(path.join(h.home, "token"), "loopy_tok_the_admin_token\n", { mode: 0o600 });
    outsideFile = path.join(await mkdtemp("/var/tmp/loopy-hostile-"), "victim.txt");
    await writeFile(outsideFile, "untouched\n");
    const allowHosts = [`127.0.0.1:${(allowed.address() as AddressInfo).port}`];
    await h.startWorker(4, { sandbox: "on", allowHosts });
    await h.startResearchWorker({ sandbox: "on", allowHosts });
  });
  afterAll(async () => {
    if (savedDbUrl === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = savedDbUrl;
    await h?.close();
    await model?.close();
    await new Promise((resolve) => allowed?.close(resolve));
  });

  const settled = (runId: string) =>
    eventually(
      async () => {
        const run = await h.api.runs.get({ runId });
        return ["succeeded", "failed", "cancelled", "awaiting_review", "needs_attention"].includes(run.status)
          ? run
          : undefined;
      },
      90_000,
      `run ${runId} to settle`,
    );

  /** A project whose repository holds the attack script and its targets, and another run's branch to go after. */
  async function hostileProject(
    name: string,
    checkpoints: Array<{ name: string; kind: "command"; command: string }> = [],
  ) {
    // Not under /tmp, which is private inside the sandbox: the script must see the real repository, read-only.
    const repo = await makeRepo(
      { "README.md": "hello\n", "attack.sh": await readFile(path.join(here, "fixtures/hostile-agent.sh"), "utf8") },
      "/var/tmp",
    );
    const project = await h.api.projects.add({ path: repo, name: `${name}-${path.basename(repo)}`, checkpoints });
    const other = await h.api.runs.launch({ project: project.name, command: "echo other > other.txt" });
    const otherRun = await settled(other.id);
    const port = (url: string) => new URL(url).port || "5432";
    const env = {
      PG_PORT: port(inject("databaseUrl")),
      REDIS_PORT: new URL(inject("redisUrl")).port || "6379",
      WEB_PORT: String(webPort),
      MODEL_PORT: new URL(model.url).port,
      ALLOWED_PORT: String((allowed.address() as AddressInfo).port),
      DB_URL: inject("databaseUrl"),
      LOOPY_HOME_DIR: h.home,
      WORKER_PID: String(process.pid),
      REPO: repo,
      OTHER_BRANCH: otherRun.branch,
      OUTSIDE_FILE: outsideFile,
    };
    await writeFile(
      path.join(repo, "hostile.env"),
      `${Object.entries(env)
        .map(([k, v]) => `${k}='${v}'`)
        .join("\n")}\n`,
    );
    gitIn(repo, "add", "hostile.env");
    gitIn(repo, "-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "targets");
    const before = {
      main: gitIn(repo, "rev-parse", "refs/heads/main"),
      head: await readFile(path.join(repo, ".git", "HEAD"), "utf8"),
      other: gitIn(repo, "rev-parse", `refs/heads/${otherRun.branch}`),
      config: await readFile(path.join(repo, ".git", "config"), "utf8"),
      tokens: await h.services.db.apiToken.count(),
    };
    return { repo, project, before, otherBranch: otherRun.branch };
  }

  /** Nothing the script tried changed anything of Loopy's or the project's. */
  async function expectUntouched(p: Awaited<ReturnType<typeof hostileProject>>) {
    const { repo, before } = p;
    expect(gitIn(repo, "rev-parse", "refs/heads/main")).toBe(before.main);
    expect(await readFile(path.join(repo, ".git", "HEAD"), "utf8")).toBe(before.head);
    expect(gitIn(repo, "rev-parse", `refs/heads/${p.otherBranch}`)).toBe(before.other);
    expect(await readFile(path.join(repo, ".git", "config"), "utf8")).toBe(before.config);
    expect(existsSync(path.join(repo, ".git", "refs", "heads", "loopy", "run-pwned"))).toBe(false);
    expect(existsSync(path.join(repo, ".git", "hooks", "post-merge"))).toBe(false);
    expect(await readFile(path.join(repo, "README.md"), "utf8")).toBe("hello\n");
    expect(gitIn(repo, "fsck", "--no-dangling")).toBe("");
    expect(await readFile(outsideFile, "utf8")).toBe("untouched\n");
    expect(await h.services.db.apiToken.count()).toBe(before.tokens);
    expect(existsSync("/var/tmp/loopy-fsmonitor-pwned")).toBe(false);
  }

  function expectAllBlocked(output: string) {
    const reports = [...output.matchAll(/^ATTACK ([\w-]+): (.*)$/gm)].map((m) => ({ name: m[1]!, verdict: m[2]! }));
    expect(
      reports.filter((r) => r.verdict !== "blocked"),
      output,
    ).toEqual([]);
    // Every attack ran (a script cut short proves nothing); psql and redis-cli ones when the tools are installed.
    expect(reports.map((r) => r.name)).toEqual(expect.arrayContaining(ATTACKS));
    expect(output).toContain("LEGIT proxy-to-allowed-host: ok");
    expect(output).not.toMatch(/LEGIT [\w-]+: FAILED/);
  }

  it("as a coding agent: every attack fails, its work reaches review", async () => {
    const p = await hostileProject("hostile-agent");
    const { id } = await h.api.runs.launch({ project: p.project.name, command: "bash attack.sh agent" });
    const run = await settled(id);
    const lines = (await h.api.runs.eventLog({ runId: id, limit: 5000 })).flatMap((e) =>
      e.event.type === "log" ? [e.event.line] : [],
    );
    const output = lines.join("\n");
    expectAllBlocked(output);
    expect(output).toContain("LEGIT work: ok");
    expect(run.status, run.statusReason ?? "").toBe("awaiting_review");
    expect((await h.api.runs.diff({ runId: id })).diff).toContain("+work done by the agent");
    // The notes symlink to the master key was not followed into the project memory.
    const masterKey = (await readFile(path.join(h.home, "master.key"), "utf8")).trim();
    expect(JSON.stringify(await h.api.projects.memory({ project: p.project.name }))).not.toContain(masterKey);
    await expectUntouched(p);
    // What the proxy refused is in the run's log.
    const errors = (await h.api.runs.eventLog({ runId: id, limit: 5000 })).flatMap((e) =>
      e.event.type === "error" ? [e.event.message] : [],
    );
    expect(errors.some((m) => m.startsWith("network: refused") && m.includes("example.com"))).toBe(true);
  }, 120_000);

  it("as a checkpoint: every attack fails, the check passes", async () => {
    const p = await hostileProject("hostile-check", [
      { name: "hostile", kind: "command", command: "bash attack.sh checkpoint" },
    ]);
    const { id } = await h.api.runs.launch({ project: p.project.name, command: "echo change > change.txt" });
    const run = await settled(id);
    const [check] = await h.api.runs.checks({ runId: id });
    expectAllBlocked(check!.output);
    expect(check!.output).toContain("LEGIT check: ok");
    expect(run).toMatchObject({ status: "awaiting_review", checksPassed: true });
    await expectUntouched(p);
  }, 120_000);

  it("as a research experiment: every attack fails, the experiment is measured and its metrics endpoint works", async () => {
    const p = await hostileProject("hostile-exp");
    const loop = await h.api.research.create({
      project: p.project.name,
      command: "bash attack.sh experiment",
      metric: "score",
      direction: "max",
      budget: "30s",
      maxExperiments: 1,
      noiseRepeats: 0,
      optimizer: "random",
      space: { x: { type: "float", low: 0, high: 1 } },
    });
    const [baseline] = await eventually(
      async () => {
        const experiments = await h.api.research.experiments({ loopId: loop.id });
        return experiments.length && experiments[0]!.status !== "queued" && experiments[0]!.status !== "running"
          ? experiments
          : undefined;
      },
      90_000,
      "the baseline experiment",
    );
    const detail = await h.services.db.experiment.findUniqueOrThrow({ where: { id: baseline!.id } });
    expectAllBlocked(detail.logTail ?? "");
    expect(detail.logTail).toContain("LEGIT metrics: ok");
    expect(detail.metricValue).toBe(1.5);
    const points = await h.api.research.points({ experimentId: baseline!.id });
    expect(points.series.find((s) => s.name === "loss")!.points).toEqual([
      { step: 1, value: 0.5 },
      { step: 2, value: 0.25 },
    ]);
    await eventually(
      async () => ((await h.api.research.get({ loopId: loop.id })).status === "completed" ? true : undefined),
      90_000,
      "the loop to end",
    );
    await expectUntouched(p);
  }, 150_000);

  it("an agent that moves its HEAD off its branch stops for a human; its files are still committed on Loopy's branch, main untouched", async () => {
    const repo = await makeRepo({ "README.md": "hello\n" }, "/var/tmp");
    const project = await h.api.projects.add({ path: repo, name: `hostile-head-${path.basename(repo)}` });
    const main = gitIn(repo, "rev-parse", "refs/heads/main");
    const { id } = await h.api.runs.launch({
      project: project.name,
      command: "echo work > work.txt && git checkout -q -b elsewhere && echo 'ref: refs/heads/main' > .git/HEAD",
    });
    const run = await settled(id);
    expect(run.status).toBe("needs_attention");
    expect(run.statusReason).toMatch(/moved HEAD off loopy\/run-/);
    expect(gitIn(repo, "rev-parse", "refs/heads/main")).toBe(main);
    expect(gitIn(repo, "show", `${run.branch}:work.txt`)).toBe("work");
  }, 60_000);

  const claude = path.resolve(here, "../tools/agent-clis/node_modules/.bin/claude");
  it.skipIf(!existsSync(claude))(
    "a CLI agent never holds its model API key: it calls the gateway with a placeholder, the gateway adds the key",
    async () => {
      const key = `sk-ant-test-${Date.now().toString(36)}-never-in-the-sandbox`;
      // A slow model, so the agent's processes can be watched while the turn runs.
      const slow = await startFakeModelServer({ delayMs: 700 });
      try {
        await h.api.secrets.set({ name: "ANTHROPIC_API_KEY", value: key });
        const name = `claude-gw-${Date.now()}`;
        await h.api.profiles.add({
          name,
          adapter: "claude-code",
          config: { model: "claude-sonnet-4-5", baseUrl: slow.url, secrets: ["ANTHROPIC_API_KEY"], maxTurns: 10 },
        });
        const repo = await makeRepo({ "README.md": "hello\n" }, "/var/tmp");
        const project = await h.api.projects.add({ path: repo, name: `hostile-key-${path.basename(repo)}` });
        const { id } = await h.api.runs.launch({
          project: project.name,
          agent: name,
          prompt: ["Take notes.", "@write notes.txt: one", "@2 write more.txt: two", "@say Done."].join("\n"),
        });
        // Every process of the run (found by its LOOPY_RUN_ID, as the worker finds them), and the key it was given.
        const seen = new Map<number, string>();
        let run = await h.api.runs.get({ runId: id });
        while (!["awaiting_review", "needs_attention", "failed", "succeeded", "cancelled"].includes(run.status)) {
          for (const entry of await readdir("/proc").catch(() => [] as string[])) {
            if (!/^\d+$/.test(entry)) continue;
            const environ = await readFile(`/proc/${entry}/environ`, "utf8").catch(() => "");
            if (!environ.includes(`LOOPY_RUN_ID=${id}`)) continue;
            const value = environ.split("\0").find((v) => v.startsWith("ANTHROPIC_API_KEY="));
            if (value) seen.set(Number(entry), value.slice("ANTHROPIC_API_KEY=".length));
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
          run = await h.api.runs.get({ runId: id });
        }
        expect(run.status, run.statusReason ?? "").toBe("awaiting_review");
        expect(gitIn(repo, "show", `${run.branch}:notes.txt`)).toBe("one");
        // The agent's processes held a placeholder, never the key.
        expect(seen.size).toBeGreaterThan(0);
        for (const value of seen.values()) expect(value).toMatch(/^loopy-placeholder-/);
        // The model got the real key: the gateway put it in, on the way out of the sandbox's own network.
        const calls = slow.requests.filter((r) => r.url.includes("/v1/messages"));
        expect(calls.length).toBeGreaterThan(0);
        for (const call of calls) expect(call.headers["x-api-key"]).toBe(key);
      } finally {
        await slow.close();
      }
    },
    120_000,
  );

  it("a project's allowed hosts open the egress proxy to them for that project only; bad host names are refused", async () => {
    const extra = createServer((_, res) => res.end("project host\n"));
    await new Promise<void>((resolve) => extra.listen(0, "127.0.0.1", resolve));
    const target = `127.0.0.1:${(extra.address() as AddressInfo).port}`;
    try {
      const probe = `timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/3128 && printf 'CONNECT ${target} HTTP/1.1\\r\\n\\r\\n' >&3 && head -n1 <&3" | tr -d '\\r' > status.txt`;
      const statusOf = async (projectName: string) => {
        const { id } = await h.api.runs.launch({ project: projectName, command: probe });
        const run = await settled(id);
        return gitIn((await h.api.projects.get({ project: projectName })).path, "show", `${run.branch}:status.txt`);
      };
      const open = await h.api.projects.add({
        path: await makeRepo({ "README.md": "x\n" }, "/var/tmp"),
        name: `egress-open-${Date.now()}`,
      });
      const closed = await h.api.projects.add({
        path: await makeRepo({ "README.md": "x\n" }, "/var/tmp"),
        name: `egress-closed-${Date.now()}`,
      });
      await expect(h.api.projects.update({ project: open.name, egressHosts: ["not a host!"] })).rejects.toThrow(
        /Not a host the egress proxy can allow: not a host!/,
      );
      expect((await h.api.projects.update({ project: open.name, egressHosts: [` ${target} `] })).egressHosts).toEqual([
        target,
      ]);
      expect(await statusOf(open.name)).toMatch(/ 200 /);
      expect(await statusOf(closed.name)).toMatch(/ 403 /);
    } finally {
      extra.close();
    }
  }, 90_000);
});

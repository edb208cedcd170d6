import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, makeRepo, type Harness } from "./harness.ts";

const exec = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const fixture = path.join(root, "packages/research-math/fixtures/autoresearch-h100-mar8.results.tsv");

/**
 * The `loopy` research commands against the real API (tRPC over HTTP and SSE,
 * served here by tRPC's standalone adapter on the harness's services), run as
 * the real CLI process.
 */
describe("loopy research CLI", () => {
  let h: Harness;
  let url: string;
  let project: string;
  let repo: string;
  let token: string;

  beforeAll(async () => {
    h = await createHarness();
    ({ url, token } = await h.serveApi("operator"));
    repo = await makeRepo({
      "exp.mjs":
        'const p = JSON.parse(process.env.LOOPY_PARAMS); console.log(JSON.stringify({ step: 1, loss: p.lr })); console.log("loss: " + p.lr);\n',
      "loopy.params.json": '{ "lr": 0.5 }\n',
    });
    project = (await h.api.projects.add({ path: repo, name: `cli-${path.basename(repo)}` })).name;
    await h.startResearchWorker();
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

  it("starts a loop and waits for it, lists experiments, exports results.tsv, imports one", async () => {
    const space = path.join(repo, "..", `${path.basename(repo)}-space.json`);
    await writeFile(space, JSON.stringify({ lr: { type: "log-float", low: 0.001, high: 1 } }));
    const started = await loopy(
      "research",
      "--project",
      project,
      "--command",
      "node exp.mjs",
      "--metric",
      "loss",
      "--direction",
      "min",
      "--budget",
      "10s",
      "--max-experiments",
      "3",
      "--optimizer",
      "tpe",
      "--space",
      space,
      "--noise-repeats",
      "1",
      "--wait",
      "--json",
    );
    expect(started.stderr).toBe("");
    expect(started.code).toBe(0);
    const loop = JSON.parse(started.stdout) as { id: string; status: string; bestMetric: number };
    expect(loop).toMatchObject({ status: "completed" });

    const human = await loopy("experiments", loop.id);
    expect(human.code).toBe(0);
    const lines = human.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^#\s+KIND\s+STATUS\s+LOSS\s+VS BEST\s+TIME\s+SLOT\s+COMMIT\s+DESCRIPTION$/);
    expect(lines).toHaveLength(6);
    expect(lines[1]).toMatch(/^0\s+baseline\s+keep\s+0\.500000/);
    const json = JSON.parse((await loopy("experiments", loop.id, "--json")).stdout) as Array<{ kind: string }>;
    expect(json.map((e) => e.kind)).toEqual(["baseline", "noise", "candidate", "candidate", "candidate"]);

    const tsv = await loopy("export", loop.id, "--tsv");
    expect(tsv.code).toBe(0);
    expect(tsv.stdout.split("\n")[0]).toBe("commit\tloss\tmemory_gb\tstatus\tdescription");
    expect(tsv.stdout.trim().split("\n")).toHaveLength(5);

    const imported = await loopy("import", fixture, "--project", project, "--json");
    expect(imported.code).toBe(0);
    const importedLoop = JSON.parse(imported.stdout) as { id: string; bestMetric: number; status: string };
    expect(importedLoop).toMatchObject({ status: "completed", bestMetric: 0.969686 });
    const roundTrip = await loopy("export", importedLoop.id, "--tsv");
    expect(roundTrip.stdout).toBe(await (await import("node:fs/promises")).readFile(fixture, "utf8"));

    const list = await loopy("research", "list", "--project", project);
    expect(list.stdout).toContain(loop.id);
    expect(list.stdout).toContain(importedLoop.id);
  }, 90_000);

  it("says what is wrong on one line of stderr with a non-zero exit", async () => {
    const bad = await loopy(
      "research",
      "--project",
      project,
      "--command",
      "node exp.mjs",
      "--metric",
      "loss",
      "--direction",
      "min",
      "--budget",
      "soon",
      "--optimizer",
      "random",
      "--space",
      fixture,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^loopy: search space .* is not valid JSON/);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    const budget = await loopy(
      "research",
      "--project",
      project,
      "--command",
      "x",
      "--metric",
      "loss",
      "--direction",
      "min",
      "--budget",
      "soon",
      "--agent",
      "nobody",
    );
    expect(budget).toMatchObject({
      code: 1,
      stderr: 'loopy: Budget: Invalid duration "soon": use forms like 30s, 5m, 1h30m or 500ms\n',
    });
    const missing = await loopy("experiments", "zzzzzzzzzz");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^loopy: No research loop "zzzzzzzzzz"/);
    const usage = await loopy("research", "--project", project, "--direction", "sideways");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^loopy: --direction must be min or max/);
    const noFile = await loopy("import", "/no/such.tsv", "--project", project);
    expect(noFile).toMatchObject({ code: 1, stderr: "loopy: cannot read /no/such.tsv: ENOENT\n" });
  }, 60_000);
});

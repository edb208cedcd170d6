/**
 * `npm run bench:research`: the research loop's orchestration overhead between
 * two experiments: from one experiment's process exit to the next one's spawn
 * (deciding and recording the outcome, resetting the worktree, proposing and
 * committing the next change, claiming it and a slot). The experiment itself is
 * trivial (`printf`), so everything measured is Loopy's. Real services: the
 * test PostgreSQL/Redis (or the embedded ones), a real git repository, the
 * research worker in this process. A benchmark, not a test: it prints figures.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadEnv } from "@loopy/config/env";
import { createServices } from "@loopy/api/services";
import { createCaller, createContext } from "@loopy/api";
import { SYSTEM_ACTOR } from "@loopy/core/access/roles";
import { startResearchWorker } from "@loopy/queue/research-worker";
import { setUpTestServices } from "../test/services.ts";

const EXPERIMENTS = Number(process.argv[2] ?? 20);

const services = await setUpTestServices();
console.log(`services: ${services.description}`);
const home = await mkdtemp(path.join(tmpdir(), "loopy-bench-home-"));
const repo = await mkdtemp(path.join(tmpdir(), "loopy-bench-repo-"));
const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, stdio: "pipe" });
git("init", "-q", "-b", "main");
await writeFile(path.join(repo, "loopy.params.json"), '{ "x": 0.5 }\n');
git("add", "-A");
git("-c", "user.name=Bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", "initial");

const env = loadEnv({
  DATABASE_URL: await services.newDatabase(),
  REDIS_URL: services.redisUrl,
  LOOPY_REDIS_PREFIX: `${services.prefix}:bench`,
  LOOPY_HOME: home,
});
const api = createServices(env);
const caller = createCaller(createContext(api, SYSTEM_ACTOR));
const worker = await startResearchWorker({
  db: api.db,
  notifier: api.researchNotifier,
  redisUrl: env.REDIS_URL!,
  prefix: env.LOOPY_REDIS_PREFIX,
  concurrency: 1,
  loopyHome: home,
});

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number;
};

interface Row {
  scenario: string;
  gaps: number[];
  wall: number;
}
const rows: Row[] = [];

async function scenario(name: string, extra: Record<string, unknown>, count = EXPERIMENTS) {
  const { id: projectId } = await caller.projects
    .get({ project: "bench" })
    .catch(() => caller.projects.add({ path: repo, name: "bench" }));
  const started = Date.now();
  const loop = await caller.research.create({
    project: projectId,
    command: "printf 'score: 0.%s\\n' $RANDOM",
    metric: "score",
    direction: "min",
    budget: "10s",
    maxExperiments: count,
    noiseRepeats: 0,
    space: { x: { type: "float", low: 0, high: 1 }, n: { type: "int", low: 1, high: 64 } },
    ...extra,
  });
  for (;;) {
    const state = await caller.research.get({ loopId: loop.id });
    if (["completed", "failed", "cancelled"].includes(state.status)) {
      if (state.status !== "completed") throw new Error(`loop ${state.status}: ${state.statusReason}`);
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const wall = Date.now() - started;
  const experiments = await caller.research.experiments({ loopId: loop.id });
  const gaps: number[] = [];
  for (let i = 1; i < experiments.length; i++) {
    const previous = experiments[i - 1]!;
    const next = experiments[i]!;
    gaps.push(next.startedAt!.getTime() - previous.endedAt!.getTime());
  }
  rows.push({ scenario: name, gaps, wall });
}

try {
  // Warm-up (JIT, connection pools, git's caches), not reported.
  await scenario("warm-up", { optimizer: "random" }, 5);
  rows.pop();
  await scenario("random search", { optimizer: "random" });
  await scenario("TPE", { optimizer: "tpe" });
  await scenario("TPE, 2 slots", { optimizer: "tpe", slots: ["gpu0", "gpu1"] });
  // Experiments that take a moment, as real ones do: the diff is stored while they run.
  await scenario("TPE, 200 ms runs", { optimizer: "tpe", command: "sleep 0.2; printf 'score: 0.%s\\n' $RANDOM" });
} finally {
  await worker.close();
  await api.close();
  await services.cleanup();
  await rm(home, { recursive: true, force: true });
  await rm(repo, { recursive: true, force: true });
}

console.log(
  `\nOrchestration overhead between experiments (process exit → next spawn), ${EXPERIMENTS} experiments after the baseline:\n`,
);
console.log("scenario          gaps  median    p95     max    loop wall-clock");
// (loop wall-clock: create to completed, experiments included)
for (const r of rows) {
  const f = (ms: number) => `${ms.toFixed(0).padStart(4)} ms`;
  console.log(
    `${r.scenario.padEnd(16)}  ${String(r.gaps.length).padStart(4)}  ${f(quantile(r.gaps, 0.5))}  ${f(quantile(r.gaps, 0.95))}  ${f(Math.max(...r.gaps))}  ${(r.wall / 1000).toFixed(1)} s`,
  );
}
process.exit(0);

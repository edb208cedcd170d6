/** The worker: apps/worker as `npm start` runs it, in a process of its own. */
import { spawn } from "node:child_process";
import { AGENTS, BenchFailure, log, root, sleep } from "./common.ts";
import type { Bench } from "./context.ts";
import { statusKb } from "./proc.ts";

export interface BenchWorker {
  pid: number;
  /** Its stdout and stderr, line by line. */
  log: string[];
  /** Its exit code once it has exited (null: a signal). */
  exited: number | null | undefined;
  peakRssKb: number;
}

/** Spawns the worker, waits until it says it is ready, and samples its RSS every second. */
export async function startWorker(bench: Bench): Promise<BenchWorker> {
  const { services, databaseUrl, prefix, home, closers } = bench;
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_WORKER_NODE_FLAGS?.split(" ").filter(Boolean) ?? []),
      "--import",
      "tsx",
      "apps/worker/src/main.ts",
    ],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TMPDIR: process.env.TMPDIR,
        DATABASE_URL: databaseUrl,
        REDIS_URL: services.redisUrl,
        LOOPY_REDIS_PREFIX: prefix,
        LOOPY_HOME: home,
        LOOPY_WORKER_CONCURRENCY: String(AGENTS),
        LOOPY_MAX_RUNNING: String(AGENTS),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const worker: BenchWorker = { pid: child.pid ?? 0, log: [], exited: undefined, peakRssKb: 0 };
  child.on("exit", (code) => (worker.exited = code));
  const ready = new Promise<void>((resolve, reject) => {
    child.on("exit", (code) =>
      reject(new BenchFailure(`the worker exited (${code}) before it was ready:\n${worker.log.join("\n")}`)),
    );
    for (const stream of [child.stdout, child.stderr]) {
      let rest = "";
      stream.on("data", (chunk: Buffer) => {
        const lines = (rest + chunk.toString()).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          worker.log.push(line);
          if (line.includes(" ready: ")) resolve();
        }
      });
    }
  });
  closers.push(async () => {
    if (worker.exited !== undefined) return;
    child.kill("SIGTERM");
    await Promise.race([new Promise((r) => child.once("exit", r)), sleep(60_000).then(() => child.kill("SIGKILL"))]);
  });
  await ready;
  log(`worker ready (pid ${worker.pid}, concurrency ${AGENTS}, LOOPY_MAX_RUNNING ${AGENTS})`);
  const rssTimer = setInterval(
    () => (worker.peakRssKb = Math.max(worker.peakRssKb, statusKb(worker.pid, "VmRSS"))),
    1000,
  );
  closers.push(() => clearInterval(rssTimer));
  return worker;
}

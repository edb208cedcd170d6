/**
 * `npm run bench:sandbox`: what confinement costs to start a process, the
 * price every agent turn, checkpoint and experiment pays. Runs `true` 40 times
 * each way and prints p50/p90 of spawn → exit:
 *
 *   - unconfined (LOOPY_SANDBOX=off)
 *   - bubblewrap with its own network namespace and no network at all
 *   - bubblewrap plus the egress proxy (Unix sockets opened by this process)
 *     and the bridge inside (a node process listening on loopback), as every
 *     agent, checkpoint and experiment runs with LOOPY_SANDBOX=auto|on
 *
 * Prints figures and asserts nothing.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { runProcess } from "../packages/agents/src/process.ts";
import { sandboxStatus, type SandboxPolicy } from "../packages/agents/src/sandbox.ts";

const RUNS = 40;
const status = await sandboxStatus();
if (!status.ok) {
  console.log(`bench:sandbox: no sandbox here (${status.reason}); nothing to measure`);
  process.exit(0);
}
const home = await mkdtemp(path.join(tmpdir(), "loopy-bench-sandbox-"));
const cwd = path.join(home, "workspace");

async function measure(label: string, sandbox: SandboxPolicy | undefined): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const result = await runProcess({ shellCommand: "true", cwd, timeoutMs: 30_000, onLine: () => undefined, sandbox });
    if (result.exitCode !== 0) throw new Error(`${label}: exit code ${result.exitCode}`);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(0);
  console.log(`${label.padEnd(48)} p50 ${at(0.5).padStart(4)} ms   p90 ${at(0.9).padStart(4)} ms`);
}

try {
  const { mkdir } = await import("node:fs/promises");
  await mkdir(cwd, { recursive: true });
  console.log(
    `bench:sandbox: ${RUNS} runs of \`true\` each way (${status.bwrap}${status.flags.length ? `, ${status.flags.join(" ")}` : ""})`,
  );
  await measure("unconfined", undefined);
  await measure("bubblewrap, own network namespace", { mode: "on", hide: [path.join(home, "hidden")] });
  await measure("bubblewrap + egress proxy + bridge (as run)", {
    mode: "on",
    hide: [path.join(home, "hidden")],
    network: { socketRoot: path.join(home, "egress"), allowHosts: [] },
  });
} finally {
  await rm(home, { recursive: true, force: true });
}

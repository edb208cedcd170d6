import path from "node:path";
import { runProcess } from "@loopy/agents/process";
import { formatDuration } from "@loopy/config/duration";
import type { Db } from "@loopy/db/client";
import { parseStepLine, parseSummary, readObjective } from "@loopy/research-math/metrics";
import { cudaDeviceOf, memoryGbOf, type Measurement } from "@loopy/research-math/plan";
import { stripNul } from "../live/run-events.ts";
import { PointWriter } from "./events.ts";
import { openMetricsEndpoint } from "./metrics-endpoint.ts";
import { workspaceSandbox, type ConfinementDeps } from "../projects/confinement.ts";
import type { ResearchNotifier } from "./ports.ts";

const LOG_TAIL_LINES = 80;
/** Summary lines kept after the last "---" (the summary is at the end; this bounds memory). */
const SUMMARY_LINES = 2000;

export interface MeasureInput {
  db: Db;
  notifier: ResearchNotifier;
  loop: {
    id: string;
    command: string;
    metric: string;
    budgetMs: number;
    hardKillMultiple: number;
    paramsFile: string;
    proposer: string;
  };
  experiment: { id: string; index: number };
  /** The claim the rows are written under; a worker that lost it writes nothing. */
  token: string;
  worktree: string;
  seed: number;
  params: unknown;
  slot: string | null;
  signal: AbortSignal;
  /** The sandbox the experiment runs in (like an agent's: the command is as untrusted as the change it measures). */
  confinement?: { deps: ConfinementDeps; repo: string; allowHosts?: string[] };
}

export interface MeasureResult {
  measurement: Measurement;
  cancelled: boolean;
  summary: Record<string, number>;
  memoryGb: number | null;
  logTail: string;
  exitCode: number | null;
  durationMs: number;
  startedAt: Date;
  endedAt: Date;
  points: number;
}

/**
 * Runs the experiment command once in the worktree, in its own process group,
 * killed (timeout) at budget × hard-kill multiple. Step lines on stdout
 * (`{"step": 10, "loss": 2.31}`) are stored as points while it runs and pushed
 * live (so are step values POSTed to LOOPY_METRICS_URL); the `name: value`
 * summary after the last `---` gives the metric.
 */
export async function measure(input: MeasureInput): Promise<MeasureResult> {
  const { db, loop, experiment, token } = input;
  const writer = new PointWriter(db, input.notifier, loop.id, experiment.id);
  const tail: string[] = [];
  let summaryLines: string[] = [];
  const cuda = cudaDeviceOf(input.slot);
  const endpoint = await openMetricsEndpoint((step, values) => writer.push(step, values));
  const env: Record<string, string> = {
    LOOPY_METRICS_URL: endpoint.url,
    SEED: String(input.seed),
    LOOPY_PARAMS: JSON.stringify(input.params ?? {}),
    LOOPY_EXPERIMENT_ID: experiment.id,
    LOOPY_EXPERIMENT_INDEX: String(experiment.index),
    LOOPY_LOOP_ID: loop.id,
    LOOPY_BUDGET_MS: String(loop.budgetMs),
    ...(loop.proposer === "random" || loop.proposer === "tpe"
      ? { LOOPY_PARAMS_FILE: path.join(input.worktree, loop.paramsFile) }
      : {}),
    ...(input.slot ? { LOOPY_SLOT: input.slot } : {}),
    ...(cuda !== undefined ? { CUDA_VISIBLE_DEVICES: cuda } : {}),
  };
  let startedAt = new Date();
  let spawnWrite: Promise<unknown> = Promise.resolve();
  const writeTail = () =>
    db.experiment.updateMany({
      where: { id: experiment.id, claimToken: token },
      data: { logTail: stripNul(tail.join("\n")) },
    });
  let tailDirty = false;
  // The row's log tail follows the run about once a second, for the experiment page.
  const progress = setInterval(() => {
    if (!tailDirty) return;
    tailDirty = false;
    // The tail is a progress view rewritten every second and once more at the end; a failed write is retried then.
    writeTail().catch(() => undefined);
  }, 1000);
  const hardKillMs = Math.round(loop.budgetMs * loop.hardKillMultiple);
  let result: Awaited<ReturnType<typeof runProcess>>;
  try {
    // The metrics endpoint is served inside the sandbox's own network on the same port, so the URL holds either way.
    const sandbox = input.confinement
      ? await workspaceSandbox(input.confinement.deps, {
          repo: input.confinement.repo,
          allowHosts: input.confinement.allowHosts,
          forwards: [{ name: "metrics", host: "127.0.0.1", targetPort: endpoint.port, port: endpoint.port }],
          devices: "gpu",
        })
      : undefined;
    result = await runProcess({
      sandbox,
      shellCommand: loop.command,
      cwd: input.worktree,
      env,
      timeoutMs: hardKillMs,
      signal: input.signal,
      onSpawn: (pid) => {
        startedAt = new Date();
        // Recorded so a worker that takes over after a crash can kill what this one leaves behind.
        spawnWrite = db.experiment
          .updateMany({ where: { id: experiment.id, claimToken: token }, data: { pid, startedAt, slot: input.slot } })
          .catch(() => undefined);
      },
      onLine: (stream, line) => {
        tail.push(stream === "stderr" ? `[stderr] ${line}` : line);
        if (tail.length > LOG_TAIL_LINES) tail.shift();
        tailDirty = true;
        if (stream !== "stdout") return;
        const step = parseStepLine(line);
        if (step) {
          writer.push(step.step, step.values);
          return;
        }
        if (line.trim() === "---") summaryLines = [];
        else {
          summaryLines.push(line);
          if (summaryLines.length > SUMMARY_LINES) summaryLines.shift();
        }
      },
    });
  } finally {
    clearInterval(progress);
    await endpoint.close();
  }
  const endedAt = new Date();
  await spawnWrite;
  await writer.flush();
  const summary = parseSummary(summaryLines.join("\n"));
  const objective = readObjective(summary, loop.metric);
  let measurement: Measurement;
  if (result.timedOut)
    measurement = {
      exit: "timeout",
      value: null,
      reason: `ran past ${formatDuration(hardKillMs)} (${loop.hardKillMultiple}× its ${formatDuration(loop.budgetMs)} budget) and was killed`,
    };
  else if (result.exitCode !== 0) {
    const how =
      result.exitCode === null ? `was killed by ${result.signal ?? "a signal"}` : `exited with code ${result.exitCode}`;
    const last = [...tail].reverse().find((l) => l.trim());
    measurement = {
      exit: "crash",
      value: null,
      reason: `the experiment ${how}${last ? `: ${last.replace(/^\[stderr\] /, "").slice(0, 300)}` : ""}`,
    };
  } else if (!objective.ok) measurement = { exit: "crash", value: null, reason: objective.reason };
  else measurement = { exit: "ok", value: objective.value };
  return {
    measurement,
    cancelled: result.cancelled,
    summary,
    memoryGb: memoryGbOf(summary),
    logTail: stripNul(tail.join("\n")),
    exitCode: result.exitCode,
    durationMs: endedAt.getTime() - startedAt.getTime(),
    startedAt,
    endedAt,
    points: writer.stored,
  };
}

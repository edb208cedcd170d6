import { readRegularFile, writeRegularFile } from "@loopy/agents/safe-files";
import path from "node:path";
import type { AgentAdapter, AgentProfileConfig, AgentUsage } from "@loopy/agents/adapter";
import type { SandboxPolicy } from "@loopy/agents/sandbox";
import { withModelGateway } from "@loopy/agents/model-gateway";
import { parseSpace, type Params } from "@loopy/research-math/space";
import { suggest, type Trial } from "@loopy/research-math/tpe";

export interface HistoryRow {
  index: number;
  kind: string;
  status: string;
  metricValue: number | null;
  params: unknown;
  description: string;
  reason: string | null;
}

/**
 * The optimizer's next parameters: random search or TPE over the loop's space,
 * seeded by the loop's seed and the candidate's number, fed every measured
 * baseline and candidate (crashes left out; maximised metrics negated).
 */
export function proposeParams(
  loop: { proposer: string; space: unknown; seed: number; direction: string },
  history: HistoryRow[],
): Params {
  const space = parseSpace(loop.space);
  const trials: Trial[] = [];
  for (const h of history) {
    if (
      (h.kind !== "baseline" && h.kind !== "candidate") ||
      h.metricValue === null ||
      !h.params ||
      typeof h.params !== "object"
    )
      continue;
    if (h.status === "crash" || h.status === "timeout" || h.status === "queued" || h.status === "running") continue;
    const params = h.params as Params;
    // Only trials that set every parameter of the space inform TPE.
    if (!Object.keys(space).every((k) => k in params)) continue;
    trials.push({ params, value: loop.direction === "min" ? h.metricValue : -h.metricValue });
  }
  const candidates = history.filter((h) => h.kind === "candidate").length;
  // A fresh stream per candidate: a suggestion that crashed (and so is not a trial) is not proposed again.
  return suggest(loop.proposer === "tpe" ? "tpe" : "random", space, trials, { seed: loop.seed + 7_777 * candidates });
}

/** The params file's JSON object in the worktree, or {} when it is missing or not an object. */
export async function readParamsFile(worktree: string, file: string): Promise<Record<string, unknown>> {
  try {
    const value: unknown = JSON.parse(
      (await readRegularFile(worktree, path.join(worktree, file), 16 * 1024 * 1024))?.toString("utf8") ?? "{}",
    );
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Writes the proposal over the current file's values (keys outside the space stay). */
export async function writeParamsFile(worktree: string, file: string, params: Params): Promise<void> {
  const current = await readParamsFile(worktree, file);
  // An experiment may have left a symlink in its place: replaced, never written through.
  await writeRegularFile(
    worktree,
    path.join(worktree, file),
    `${JSON.stringify({ ...current, ...params }, null, 2)}\n`,
    0o644,
  );
}

function fmt(x: number | null): string {
  if (x === null) return "-";
  return Math.abs(x) >= 0.01 ? x.toFixed(6) : x.toPrecision(4);
}

/** A kept change of another loop on the same project: the shared results board. */
export interface BoardRow {
  loopName: string;
  metric: string;
  value: number | null;
  description: string;
}

/**
 * The prompt of an agent proposer: the loop's instructions, the rules, a
 * compact history of its experiments, and what other loops on the project kept.
 */
export function agentPrompt(
  loop: {
    instructions: string;
    metric: string;
    direction: string;
    command: string;
    budgetMs: number;
    editableGlobs: string[];
    protectedFiles: string[];
    noiseFloor: number | null;
    bestMetric: number | null;
  },
  history: HistoryRow[],
  board: BoardRow[] = [],
): string {
  const better = loop.direction === "min" ? "lower" : "higher";
  const lines = history
    .filter((h) => h.kind === "baseline" || h.kind === "candidate")
    .slice(-40)
    .map(
      (h) =>
        `#${h.index} ${h.status.padEnd(7)} ${loop.metric}=${fmt(h.metricValue)}  ${h.description || (h.kind === "baseline" ? "baseline" : "")}${h.status === "crash" && h.reason ? ` (${h.reason.slice(0, 120)})` : ""}`,
    );
  return [
    loop.instructions.trim() || `Improve ${loop.metric}.`,
    "",
    "## This step",
    `You are one experiment of a research loop run by Loopy. Make ONE change that could improve ${loop.metric} (${better} is better).`,
    `Loopy then commits your change, runs \`${loop.command}\` (about ${Math.round(loop.budgetMs / 1000)}s), reads "${loop.metric}: <value>" from its output, and keeps the change only if it beats the best by more than the noise floor${loop.noiseFloor !== null ? ` (${fmt(loop.noiseFloor)})` : ""}; otherwise it is reset.`,
    `Edit only files matching: ${loop.editableGlobs.join(", ")}.${loop.protectedFiles.length ? ` Never change: ${loop.protectedFiles.join(", ")}.` : ""} Do not run the experiment yourself.`,
    "End with one short line saying what you changed: it becomes the experiment's description.",
    "",
    "## Past experiments (oldest first)",
    ...(lines.length ? lines : ["(none yet)"]),
    ...(loop.bestMetric !== null ? [`Best so far: ${loop.metric}=${fmt(loop.bestMetric)}`] : []),
    ...(board.length
      ? [
          "",
          "## What other loops on this project kept (their setups may differ)",
          ...board.map((b) => `[${b.loopName}] ${b.metric}=${fmt(b.value)}  ${b.description}`),
        ]
      : []),
  ].join("\n");
}

export interface AgentProposal {
  ok: boolean;
  cancelled: boolean;
  description: string;
  reason?: string;
  usage?: AgentUsage;
}

/** Runs one agent turn in the worktree; its last message's first line describes the change. */
export async function runAgentProposer(input: {
  adapter: AgentAdapter;
  profile: AgentProfileConfig;
  worktree: string;
  prompt: string;
  env: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
  stateDir: string;
  binDirs?: string[];
  sandbox?: SandboxPolicy;
  onLine?: (line: string) => void;
}): Promise<AgentProposal> {
  let lastMessage = "";
  const outcome = await input.adapter.run(
    await withModelGateway(input.adapter, {
      cwd: input.worktree,
      instruction: input.prompt,
      env: input.env,
      timeoutMs: input.timeoutMs,
      signal: input.signal,
      profile: input.profile,
      stateDir: input.stateDir,
      binDirs: input.binDirs,
      sandbox: input.sandbox,
    }),
    (event) => {
      if (event.type === "message" && event.text.trim()) lastMessage = event.text;
      if (event.type === "log") input.onLine?.(event.line);
    },
  );
  const description =
    lastMessage
      .trim()
      .split("\n")
      .filter((l) => l.trim())
      .at(-1)
      ?.trim()
      .slice(0, 300) ?? "";
  return {
    ok: outcome.ok,
    cancelled: outcome.cancelled,
    description: description || "agent change",
    reason: outcome.reason,
    usage: outcome.usage,
  };
}

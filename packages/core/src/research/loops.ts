import path from "node:path";
import type { Prisma, Db } from "@loopy/db/client";
import { parseDuration } from "@loopy/config/duration";
import { findAgent } from "@loopy/agents/registry";
import { parseSpace } from "@loopy/research-math/space";
import { formatResultsTsv, parseResultsTsv, runningBest, type ResultRow } from "@loopy/research-math/results-tsv";
import { downsampleMinMax } from "@loopy/research-math/downsample";
import { badInput, conflict, notFound } from "../errors.ts";
import { git, resolveCommit } from "../git.ts";
import { globToRegExp } from "../glob.ts";
import { newId } from "../ids.ts";
import { findProject } from "../projects.ts";
import { findProfile } from "../profiles.ts";
import { committedFileHash } from "./files.ts";
import { appendResearchEvents, type ExperimentStatus, type LoopStatus } from "./events.ts";
import type { ResearchDeps, ResearchLaunchDeps } from "./ports.ts";

export const MAX_BUDGET_MS = 24 * 3_600_000;
const METRIC_NAME = /^[A-Za-z_][\w./-]*$/;
const SLOT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const TERMINAL: LoopStatus[] = ["completed", "failed", "cancelled"];

export const loopSummarySelect = {
  id: true,
  name: true,
  status: true,
  statusReason: true,
  command: true,
  metric: true,
  direction: true,
  budgetMs: true,
  hardKillMultiple: true,
  maxExperiments: true,
  wallClockMs: true,
  costLimitUsd: true,
  costUsd: true,
  proposer: true,
  paramsFile: true,
  seed: true,
  noiseRepeats: true,
  confirmRuns: true,
  slots: true,
  branch: true,
  baseRef: true,
  baseSha: true,
  bestExperimentId: true,
  bestCommit: true,
  bestMetric: true,
  noiseFloor: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
  project: { select: { id: true, name: true, path: true } },
  agentProfile: { select: { id: true, name: true, adapter: true } },
} as const;

export const loopDetailSelect = {
  ...loopSummarySelect,
  instructions: true,
  editableGlobs: true,
  protectedFiles: true,
  space: true,
  worktreePath: true,
  holder: true,
  heartbeatAt: true,
} as const;

export type LoopSummary = Prisma.ResearchLoopGetPayload<{ select: typeof loopSummarySelect }>;
export type LoopDetail = Prisma.ResearchLoopGetPayload<{ select: typeof loopDetailSelect }>;

export interface CreateResearchLoopInput {
  /** Project id or name. */
  project: string;
  name?: string;
  /** The program.md text an agent proposer reads. */
  instructions?: string;
  /** Globs of files experiments may change (default for optimizers: the params file). */
  editable?: string[];
  /** Files verified by sha256 before every experiment (an evaluation script). */
  protected?: string[];
  command: string;
  metric: string;
  direction: "min" | "max";
  /** Per-experiment time budget: "5m", "90s", or seconds. */
  budget: string | number;
  /** Hard kill at budget × this (default 2). */
  hardKillMultiple?: number;
  maxExperiments?: number;
  wallClock?: string | number;
  costLimitUsd?: number;
  optimizer?: "random" | "tpe";
  space?: unknown;
  /** An agent profile (name or id) as the proposer. */
  agent?: string;
  paramsFile?: string;
  seed?: number;
  noiseRepeats?: number;
  confirmRuns?: number;
  slots?: string[];
  baseRef?: string;
}

function duration(value: string | number, what: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw badInput(`${what}: ${(error as Error).message}`);
  }
}

function wholeNumber(value: number | undefined, what: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min || value > max)
    throw badInput(`${what} must be a whole number from ${min} to ${max}, got ${value}`);
  return value;
}

function relativePath(file: string, what: string): string {
  const p = file.trim();
  if (!p || path.isAbsolute(p) || p.split(/[\\/]/).includes("..") || p.startsWith("-"))
    throw badInput(`${what} must be a path inside the repository, got "${file}"`);
  return path.posix.normalize(p);
}

/** Files tracked at a commit. */
async function trackedFiles(repo: string, sha: string): Promise<string[]> {
  return (await git(repo, ["-c", "core.quotePath=false", "ls-tree", "-r", "--name-only", sha]))
    .split("\n")
    .filter(Boolean);
}

/**
 * Creates a research loop: validates everything a worker would trip over later
 * (project, command, metric, direction, budget, search space or agent profile,
 * editable globs that match files, protected files that exist), writes the loop
 * row (queued) and only then queues its job, whose id is the loop id. Nothing is
 * written on bad input.
 */
export async function createResearchLoop(
  deps: ResearchLaunchDeps,
  input: CreateResearchLoopInput,
): Promise<LoopDetail> {
  const prepared = await prepareResearchLoop(deps, input);
  const id = newId();
  await deps.db.$transaction(async (tx) => {
    await writeResearchLoop(tx, prepared, id);
  });
  await deps.researchNotifier.loopChanged(id, "queued");
  try {
    await deps.researchScheduler.enqueue(id);
  } catch (error) {
    await finishLoop(deps, id, "failed", `Could not queue the loop: ${(error as Error).message}`, ["queued"]);
  }
  return getLoop(deps.db, id);
}

/** A research loop's row, checked, before it has an id. */
export type PreparedLoop = Omit<Prisma.ResearchLoopUncheckedCreateInput, "id" | "branch">;

/** Writes a prepared loop (queued) and its first event inside the caller's transaction; fleet members wait for their dispatcher. */
export async function writeResearchLoop(
  tx: Prisma.TransactionClient,
  prepared: PreparedLoop,
  id: string,
  fleet?: { fleetId: string; memberIndex: number },
) {
  await tx.researchLoop.create({
    data: {
      ...prepared,
      id,
      branch: `loopy/research-${id}`,
      ...(fleet ? { fleetId: fleet.fleetId, memberIndex: fleet.memberIndex } : {}),
    },
  });
  await appendResearchEvents(tx, null, id, [{ type: "loop", status: "queued" }]);
}

/**
 * Validates a research loop (everything createResearchLoop checks) and
 * returns its row; writes nothing.
 */
export async function prepareResearchLoop(
  deps: Pick<ResearchLaunchDeps, "db" | "agentBinDirs">,
  input: CreateResearchLoopInput,
): Promise<PreparedLoop> {
  const { db } = deps;
  const project = await findProject(db, input.project);
  const command = input.command?.trim();
  if (!command) throw badInput('Command is empty: give the command that runs one experiment (e.g. "node train.mjs")');
  const metric = input.metric?.trim() ?? "";
  if (!METRIC_NAME.test(metric))
    throw badInput(
      `Metric must be the name printed in the summary line "name: value" (letters, digits, _ . / -), got "${input.metric ?? ""}"`,
    );
  if (input.direction !== "min" && input.direction !== "max")
    throw badInput(`Direction must be "min" or "max", got "${String(input.direction)}"`);
  const budgetMs = duration(input.budget, "Budget");
  if (budgetMs < 100 || budgetMs > MAX_BUDGET_MS)
    throw badInput(`Budget must be between 100ms and 24h, got ${budgetMs}ms`);
  const hardKillMultiple = input.hardKillMultiple ?? 2;
  if (!Number.isFinite(hardKillMultiple) || hardKillMultiple < 1 || hardKillMultiple > 10)
    throw badInput(`The hard-kill multiple must be between 1 and 10, got ${hardKillMultiple}`);
  const maxExperiments = wholeNumber(input.maxExperiments, "Max experiments", 1, 100_000);
  const wallClockMs =
    input.wallClock === undefined || input.wallClock === "" ? undefined : duration(input.wallClock, "Wall-clock limit");
  if (wallClockMs !== undefined && wallClockMs > 2_000_000_000)
    throw badInput("The wall-clock limit must be under 23 days");
  if (input.costLimitUsd !== undefined && (!Number.isFinite(input.costLimitUsd) || input.costLimitUsd <= 0))
    throw badInput("The cost limit must be a positive number of dollars");
  const seed = wholeNumber(input.seed, "Seed", 0, 2_000_000_000) ?? 1;
  const noiseRepeats = wholeNumber(input.noiseRepeats, "Noise repeats", 0, 20) ?? 2;
  const confirmRuns = wholeNumber(input.confirmRuns, "Confirm re-runs", 0, 10) ?? 0;
  const paramsFile = relativePath(input.paramsFile ?? "loopy.params.json", "The params file");
  const slots = [...new Set((input.slots ?? []).map((s) => s.trim()).filter(Boolean))];
  for (const slot of slots)
    if (!SLOT_NAME.test(slot))
      throw badInput(`Invalid slot name "${slot}": use letters, digits, "_", "." and "-" (e.g. gpu0)`);
  if (slots.length > 256) throw badInput("At most 256 slots");

  // Proposer: an optimizer over a search space, or an agent profile.
  if (input.optimizer && input.agent)
    throw badInput(
      "Choose one proposer: an optimizer (--optimizer with --space) or an agent profile (--agent), not both",
    );
  let proposer: "random" | "tpe" | "agent";
  let space: object | undefined;
  let agentProfileId: string | undefined;
  if (input.agent) {
    const profile = await findProfile(db, input.agent);
    if (!profile)
      throw badInput(
        `No agent profile "${input.agent}". Save one with "loopy profile add", or use --optimizer random|tpe with --space`,
      );
    const adapter = findAgent(profile.adapter);
    if (!adapter || adapter.takes !== "prompt")
      throw badInput(
        `Profile "${profile.name}" uses the ${profile.adapter} adapter, which cannot edit files from instructions; choose an LLM agent profile`,
      );
    const missing = await adapter.unavailable({ binDirs: deps.agentBinDirs, profile: profile.config });
    if (missing) throw badInput(`Profile "${profile.name}" cannot run here: ${missing}`);
    proposer = "agent";
    agentProfileId = profile.id;
  } else if (input.optimizer) {
    if (input.optimizer !== "random" && input.optimizer !== "tpe")
      throw badInput(`Optimizer must be "random" or "tpe", got "${String(input.optimizer)}"`);
    if (input.space === undefined || input.space === null)
      throw badInput(
        `The ${input.optimizer} optimizer needs a search space (--space FILE with JSON like {"lr": {"type": "log-float", "low": 1e-4, "high": 1e-1}})`,
      );
    try {
      space = parseSpace(input.space);
    } catch (error) {
      throw badInput((error as Error).message);
    }
    proposer = input.optimizer;
  } else {
    throw badInput("No proposer: give an optimizer (random or tpe) with a search space, or an agent profile");
  }

  const baseRef = input.baseRef?.trim() || project.defaultBranch;
  const baseSha = await resolveCommit(project.path, baseRef);
  if (!baseSha) throw badInput(`Base ref "${baseRef}" does not exist in project "${project.name}" (${project.path})`);
  const files = await trackedFiles(project.path, baseSha);

  const editable = [...new Set((input.editable ?? []).map((g) => g.trim()).filter(Boolean))];
  if (proposer !== "agent" && !editable.includes(paramsFile)) editable.push(paramsFile);
  if (editable.length === 0)
    throw badInput("No editable files: give the globs of files the agent may change (e.g. train.py)");
  for (const glob of editable) {
    // The optimizer's params file may be new: it is written before the first candidate.
    if (proposer !== "agent" && glob === paramsFile) continue;
    const re = globToRegExp(glob);
    if (!files.some((f) => re.test(f)))
      throw badInput(`Editable glob "${glob}" matches no file in ${project.name} at ${baseRef}`);
  }
  const protectedFiles: Record<string, string> = {};
  for (const raw of input.protected ?? []) {
    const file = relativePath(raw, "A protected file");
    if (!files.includes(file))
      throw badInput(`Protected file "${file}" does not exist in ${project.name} at ${baseRef}`);
    if (editable.some((g) => globToRegExp(g).test(file)))
      throw badInput(`"${file}" is both protected and editable; take it out of one list`);
    protectedFiles[file] = await committedFileHash(project.path, baseSha, file);
  }

  const name =
    input.name?.trim() ||
    `${metric} ${input.direction === "min" ? "↓" : "↑"} · ${proposer} · ${command.length > 60 ? `${command.slice(0, 57)}...` : command}`;
  return {
    projectId: project.id,
    name: name.slice(0, 200),
    instructions: input.instructions ?? "",
    editableGlobs: editable,
    protectedFiles,
    command,
    metric,
    direction: input.direction,
    budgetMs,
    hardKillMultiple,
    maxExperiments,
    wallClockMs,
    costLimitUsd: input.costLimitUsd,
    proposer,
    space,
    agentProfileId,
    paramsFile,
    seed,
    noiseRepeats,
    confirmRuns,
    slots,
    baseRef,
    baseSha,
  };
}

/**
 * Ends a loop (conditional on its current status) and records the change as
 * an event. Returns false when the loop was not in one of `from`.
 */
export async function finishLoop(
  deps: ResearchDeps,
  loopId: string,
  to: LoopStatus,
  reason: string | undefined,
  from: LoopStatus[],
  extra: { holder?: string } = {},
): Promise<boolean> {
  // heartbeat_at stays: it tells a sweeping worker whether the last holder may still be tidying up.
  const stored = await deps.db.$transaction(async (tx) => {
    const { count } = await tx.researchLoop.updateMany({
      where: { id: loopId, status: { in: from }, ...(extra.holder ? { holder: extra.holder } : {}) },
      data: {
        status: to,
        statusReason: reason ?? null,
        ...(TERMINAL.includes(to) ? { finishedAt: new Date(), holder: null } : {}),
      },
    });
    if (count === 0) return null;
    return appendResearchEvents(tx, null, loopId, [{ type: "loop", status: to, ...(reason ? { reason } : {}) }]);
  });
  if (!stored) return false;
  await deps.researchNotifier.loopEvents(loopId, stored);
  await deps.researchNotifier.loopChanged(loopId, to);
  return true;
}

export async function getLoop(db: Db, loopId: string): Promise<LoopDetail> {
  const loop = await db.researchLoop.findUnique({ where: { id: loopId }, select: loopDetailSelect });
  if (!loop) throw notFound(`No research loop "${loopId}". List them with "loopy research list".`);
  return loop;
}

export type LoopListItem = LoopSummary & { counts: Record<ExperimentStatus, number> & { total: number } };

/** Loops, newest first, with experiment counts by status (candidates and baseline). */
export async function listLoops(
  db: Db,
  input: { projectId?: string; status?: LoopStatus; limit?: number } = {},
): Promise<LoopListItem[]> {
  const loops = await db.researchLoop.findMany({
    where: { projectId: input.projectId, status: input.status },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: Math.min(Math.max(input.limit ?? 100, 1), 500),
    select: loopSummarySelect,
  });
  const groups = loops.length
    ? await db.experiment.groupBy({
        by: ["loopId", "status"],
        where: { loopId: { in: loops.map((l) => l.id) }, kind: { in: ["baseline", "candidate"] } },
        _count: { _all: true },
      })
    : [];
  return loops.map((loop) => {
    const counts = { queued: 0, running: 0, keep: 0, discard: 0, crash: 0, timeout: 0, flagged: 0, total: 0 };
    for (const g of groups) {
      if (g.loopId !== loop.id) continue;
      counts[g.status] += g._count._all;
      counts.total += g._count._all;
    }
    return { ...loop, counts };
  });
}

/**
 * Cancels a loop. A queued loop ends at once and its job goes. A running one
 * ends cancelled now (the row is the truth) and its worker is told to kill the
 * experiment's process group; it records the experiment and resets the worktree.
 */
export async function cancelResearchLoop(deps: ResearchLaunchDeps, loopId: string): Promise<LoopDetail> {
  const loop = await getLoop(deps.db, loopId);
  if (TERMINAL.includes(loop.status))
    throw conflict(`Research loop ${loopId} already ended (${loop.status}); nothing to cancel`);
  if (loop.status === "queued") {
    await deps.researchScheduler.remove(loopId);
    if (await finishLoop(deps, loopId, "cancelled", "Cancelled before it started", ["queued"]))
      return getLoop(deps.db, loopId);
  }
  await appendResearchEvents(deps.db, deps.researchNotifier, loopId, [{ type: "cancel_requested" }]);
  await finishLoop(deps, loopId, "cancelled", "Cancelled by a user", ["queued", "running", "paused"]);
  await deps.researchScheduler.requestCancel(loopId);
  return getLoop(deps.db, loopId);
}

/**
 * Pauses a loop: the experiment in progress finishes and is recorded, then no
 * new one starts; the worker lets go of the loop and its worktree stays.
 */
export async function pauseResearchLoop(deps: ResearchLaunchDeps, loopId: string): Promise<LoopDetail> {
  const loop = await getLoop(deps.db, loopId);
  if (loop.status === "paused") return loop;
  if (loop.status !== "running" && loop.status !== "queued")
    throw conflict(`Research loop ${loopId} is ${loop.status}; only a queued or running loop can be paused`);
  const stored = await deps.db.$transaction(async (tx) => {
    const { count } = await tx.researchLoop.updateMany({
      where: { id: loopId, status: { in: ["running", "queued"] } },
      data: { status: "paused", statusReason: "Paused by a user" },
    });
    if (count === 0) return null;
    return appendResearchEvents(tx, null, loopId, [
      {
        type: "loop",
        status: "paused",
        reason: loop.status === "running" ? "pausing: the experiment in progress finishes first" : "Paused by a user",
      },
    ]);
  });
  if (!stored) throw conflict(`Research loop ${loopId} changed state; try again`);
  await deps.researchNotifier.loopEvents(loopId, stored);
  await deps.researchNotifier.loopChanged(loopId, "paused");
  // A queued loop's job would only find it paused; take it off the queue.
  if (loop.status === "queued") await deps.researchScheduler.remove(loopId);
  return getLoop(deps.db, loopId);
}

/** Resumes a paused loop: its worker carries on if it still holds it, else the loop is queued for the next free worker. */
export async function resumeResearchLoop(deps: ResearchLaunchDeps, loopId: string): Promise<LoopDetail> {
  const loop = await getLoop(deps.db, loopId);
  if (loop.status === "running" || loop.status === "queued") return loop;
  if (loop.status !== "paused")
    throw conflict(`Research loop ${loopId} is ${loop.status}; only a paused loop can be resumed`);
  const result = await deps.db.$transaction(async (tx) => {
    // Still held (its experiment is finishing): the holder simply goes on.
    const held = await tx.researchLoop.updateMany({
      where: { id: loopId, status: "paused", holder: { not: null } },
      data: { status: "running", statusReason: null },
    });
    if (held.count > 0)
      return {
        to: "running" as const,
        events: await appendResearchEvents(tx, null, loopId, [{ type: "loop", status: "running", reason: "resumed" }]),
      };
    const free = await tx.researchLoop.updateMany({
      where: { id: loopId, status: "paused", holder: null },
      data: { status: "queued", statusReason: null },
    });
    if (free.count > 0)
      return {
        to: "queued" as const,
        events: await appendResearchEvents(tx, null, loopId, [{ type: "loop", status: "queued", reason: "resumed" }]),
      };
    return null;
  });
  if (!result) throw conflict(`Research loop ${loopId} changed state; try again`);
  await deps.researchNotifier.loopEvents(loopId, result.events);
  await deps.researchNotifier.loopChanged(loopId, result.to);
  // Queued in both cases: if its holder died while the loop was paused, the job takes it over once the lease runs out
  // (a live holder keeps it, and the job finds nothing to do).
  await deps.researchScheduler.enqueue(loopId);
  return getLoop(deps.db, loopId);
}

export const experimentSummarySelect = {
  id: true,
  index: true,
  kind: true,
  status: true,
  reason: true,
  confirmsId: true,
  params: true,
  description: true,
  seed: true,
  commitSha: true,
  parentSha: true,
  additions: true,
  deletions: true,
  metricValue: true,
  memoryGb: true,
  exitCode: true,
  durationMs: true,
  costUsd: true,
  slot: true,
  attempt: true,
  createdAt: true,
  startedAt: true,
  endedAt: true,
} as const;

export type ExperimentSummary = Prisma.ExperimentGetPayload<{ select: typeof experimentSummarySelect }> & {
  /** Improvement over the loop's current best (positive is better), when both exist. */
  deltaVsBest: number | null;
  /** The best kept metric after this experiment (the progression chart's step line). */
  bestSoFar: number | null;
};

/**
 * A loop's experiments in order, each with its delta against the current best
 * and the running best. With confirm re-runs, a kept candidate counts with the
 * mean of its runs (and the baseline with the mean of its noise repeats), as
 * the loop judged them.
 */
export async function listExperiments(db: Db, loopId: string): Promise<ExperimentSummary[]> {
  const loop = await db.researchLoop.findUnique({
    where: { id: loopId },
    select: { direction: true, bestMetric: true, confirmRuns: true },
  });
  if (!loop) throw notFound(`No research loop "${loopId}". List them with "loopy research list".`);
  const rows = await db.experiment.findMany({
    where: { loopId },
    orderBy: { index: "asc" },
    select: experimentSummarySelect,
  });
  const sign = loop.direction === "min" ? -1 : 1;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const confirms = new Map<string, number[]>();
  for (const r of rows) {
    if (r.kind === "confirm" && r.confirmsId && r.metricValue !== null)
      confirms.set(r.confirmsId, [...(confirms.get(r.confirmsId) ?? []), r.metricValue]);
  }
  const baselineRuns = rows
    .filter((r) => (r.kind === "baseline" || r.kind === "noise") && r.status === "keep" && r.metricValue !== null)
    .map((r) => r.metricValue as number);
  const judged = (row: (typeof rows)[number]): number | null => {
    if (row.metricValue === null || loop.confirmRuns === 0) return row.metricValue;
    if (row.kind === "baseline") return mean(baselineRuns);
    const again = confirms.get(row.id);
    return again ? mean([row.metricValue, ...again]) : row.metricValue;
  };
  let best: number | null = null;
  return rows.map((row) => {
    const value = judged(row);
    if (row.status === "keep" && (row.kind === "baseline" || row.kind === "candidate") && value !== null) {
      if (best === null || sign * (value - best) > 0) best = value;
    }
    const deltaVsBest =
      row.metricValue !== null && loop.bestMetric !== null ? sign * (row.metricValue - loop.bestMetric) : null;
    return { ...row, deltaVsBest, bestSoFar: best };
  });
}

export const experimentDetailSelect = {
  ...experimentSummarySelect,
  loopId: true,
  diff: true,
  diffStats: true,
  metrics: true,
  logTail: true,
  loop: {
    select: {
      id: true,
      name: true,
      metric: true,
      direction: true,
      budgetMs: true,
      hardKillMultiple: true,
      bestMetric: true,
      bestExperimentId: true,
    },
  },
} as const;

export async function getExperiment(db: Db, experimentId: string) {
  const row = await db.experiment.findUnique({ where: { id: experimentId }, select: experimentDetailSelect });
  if (!row) throw notFound(`No experiment "${experimentId}"`);
  const sign = row.loop.direction === "min" ? -1 : 1;
  return {
    ...row,
    deltaVsBest:
      row.metricValue !== null && row.loop.bestMetric !== null ? sign * (row.metricValue - row.loop.bestMetric) : null,
  };
}

export interface PointSeries {
  name: string;
  /** Points stored for this series (before downsampling). */
  total: number;
  points: Array<{ step: number; value: number }>;
}

/**
 * An experiment's step series, each downsampled to at most `maxPoints` with
 * min/max buckets (about two per horizontal pixel: pass twice the chart's
 * width). `sinceId` returns only points stored after that id; `lastId` is the
 * newest point included, the place to resume from (also in research.events).
 */
export async function getPoints(
  db: Db,
  input: { experimentId: string; name?: string; sinceId?: string | null; maxPoints?: number },
): Promise<{ experimentId: string; lastId: string | null; series: PointSeries[] }> {
  const exists = await db.experiment.findUnique({ where: { id: input.experimentId }, select: { id: true } });
  if (!exists) throw notFound(`No experiment "${input.experimentId}"`);
  const maxPoints = Math.min(Math.max(input.maxPoints ?? 2000, 2), 20_000);
  const rows = await db.experimentPoint.findMany({
    where: {
      experimentId: input.experimentId,
      ...(input.name ? { name: input.name } : {}),
      ...(input.sinceId ? { id: { gt: BigInt(input.sinceId) } } : {}),
    },
    orderBy: [{ name: "asc" }, { step: "asc" }, { id: "asc" }],
    select: { id: true, name: true, step: true, value: true },
  });
  let lastId: bigint | null = null;
  const byName = new Map<string, Array<{ x: number; y: number }>>();
  for (const r of rows) {
    if (lastId === null || r.id > lastId) lastId = r.id;
    let list = byName.get(r.name);
    if (!list) byName.set(r.name, (list = []));
    list.push({ x: r.step, y: r.value });
  }
  const series = [...byName.entries()].map(([name, xs]) => ({
    name,
    total: xs.length,
    points: downsampleMinMax(xs, maxPoints).map((p) => ({ step: p.x, value: p.y })),
  }));
  return {
    experimentId: input.experimentId,
    lastId: lastId === null ? (input.sinceId ?? null) : lastId.toString(),
    series,
  };
}

const EXPORT_STATUS: Record<string, ResultRow["status"] | null> = {
  keep: "keep",
  discard: "discard",
  flagged: "discard",
  crash: "crash",
  timeout: "crash",
  queued: null,
  running: null,
};

/** A loop as autoresearch's results.tsv (baseline and candidates; noise and confirm re-runs are Loopy's own). */
export async function exportResultsTsv(db: Db, loopId: string): Promise<{ filename: string; tsv: string }> {
  const loop = await db.researchLoop.findUnique({
    where: { id: loopId },
    select: { id: true, metric: true, proposer: true },
  });
  if (!loop) throw notFound(`No research loop "${loopId}"`);
  const rows = await db.experiment.findMany({
    where: { loopId, kind: { in: ["baseline", "candidate"] } },
    orderBy: { index: "asc" },
    select: experimentSummarySelect,
  });
  const out: ResultRow[] = [];
  for (const r of rows) {
    const status = EXPORT_STATUS[r.status];
    if (!status) continue;
    const note =
      r.status === "flagged" ? " (flagged: within the noise floor)" : r.status === "timeout" ? " (timeout)" : "";
    const commit = loop.proposer === "import" ? (r.commitSha ?? "") : (r.commitSha?.slice(0, 7) ?? "-");
    out.push({
      commit,
      value: status === "crash" ? null : r.metricValue,
      memoryGb: status === "crash" ? null : r.memoryGb,
      status,
      description: `${r.description || (r.kind === "baseline" ? "baseline" : "")}${note}`,
    });
  }
  return { filename: `results-${loopId}.tsv`, tsv: formatResultsTsv({ metric: loop.metric, rows: out }) };
}

/**
 * Imports an autoresearch results.tsv as a completed loop (nothing runs), so a
 * session made outside Loopy shows in its charts. The first row is the baseline.
 */
export async function importResultsTsv(
  deps: ResearchDeps,
  input: { project: string; tsv: string; name?: string; direction?: "min" | "max" },
): Promise<LoopDetail> {
  const { db } = deps;
  const project = await findProject(db, input.project);
  let file;
  try {
    file = parseResultsTsv(input.tsv);
  } catch (error) {
    throw badInput((error as Error).message);
  }
  if (file.rows.length === 0) throw badInput("The results.tsv has a header but no rows");
  const direction = input.direction ?? "min";
  if (direction !== "min" && direction !== "max")
    throw badInput(`Direction must be "min" or "max", got "${String(direction)}"`);
  const best = runningBest(file.rows, direction);
  const finalBest = best.at(-1) ?? null;
  const bestIndex = finalBest === null ? -1 : file.rows.findIndex((r) => r.status === "keep" && r.value === finalBest);
  const id = newId();
  const ids = file.rows.map(() => newId());
  const baseSha = (await resolveCommit(project.path, project.defaultBranch)) ?? "";
  await db.$transaction(async (tx) => {
    await tx.researchLoop.create({
      data: {
        id,
        projectId: project.id,
        name: (input.name?.trim() || `imported results.tsv (${file.rows.length} experiments)`).slice(0, 200),
        command: "(imported from results.tsv)",
        metric: file.metric,
        direction,
        budgetMs: 0,
        proposer: "import",
        noiseRepeats: 0,
        status: "completed",
        statusReason: `Imported ${file.rows.length} rows from a results.tsv`,
        baseRef: project.defaultBranch,
        baseSha,
        branch: `loopy/research-${id}`,
        bestExperimentId: bestIndex >= 0 ? ids[bestIndex] : null,
        bestCommit: bestIndex >= 0 ? (file.rows[bestIndex]?.commit ?? null) : null,
        bestMetric: finalBest,
        finishedAt: new Date(),
      },
    });
    await tx.experiment.createMany({
      data: file.rows.map((r, i) => ({
        id: ids[i] as string,
        loopId: id,
        index: i,
        kind: i === 0 ? "baseline" : "candidate",
        status: r.status,
        description: r.description,
        commitSha: r.commit,
        metricValue: r.value,
        memoryGb: r.memoryGb,
      })),
    });
    await appendResearchEvents(tx, null, id, [{ type: "loop", status: "completed", reason: "imported" }]);
  });
  await deps.researchNotifier.loopChanged(id, "completed");
  return getLoop(db, id);
}

/**
 * Slot utilisation of a project: the slots its loops name, who holds each now,
 * and every experiment's time on a slot since `since` (for a chart over time).
 */
export async function slotUsage(db: Db, input: { project: string; since?: Date }) {
  const project = await findProject(db, input.project);
  const loops = await db.researchLoop.findMany({ where: { projectId: project.id }, select: { slots: true } });
  const names = new Set<string>();
  for (const l of loops) for (const s of (l.slots as string[] | null) ?? []) names.add(s);
  const leases = await db.researchSlotLease.findMany({
    where: { projectId: project.id },
    select: { slot: true, loopId: true, experimentId: true, acquiredAt: true, expiresAt: true },
  });
  for (const l of leases) names.add(l.slot);
  const now = new Date();
  const intervals = await db.experiment.findMany({
    where: {
      slot: { not: null },
      loop: { projectId: project.id },
      startedAt: { not: null, ...(input.since ? { gte: input.since } : {}) },
    },
    orderBy: { startedAt: "asc" },
    select: { slot: true, loopId: true, id: true, index: true, status: true, startedAt: true, endedAt: true },
  });
  return {
    slots: [...names].sort().map((name) => {
      const lease = leases.find((l) => l.slot === name && l.expiresAt > now);
      return {
        name,
        busy: lease ? { loopId: lease.loopId, experimentId: lease.experimentId, since: lease.acquiredAt } : null,
      };
    }),
    intervals: intervals.map((e) => ({
      slot: e.slot as string,
      loopId: e.loopId,
      experimentId: e.id,
      index: e.index,
      status: e.status,
      start: e.startedAt as Date,
      end: e.endedAt,
    })),
  };
}

import path from "node:path";
import type { Prisma } from "@loopy/db/client";
import { parseDuration } from "@loopy/config/duration";
import { findAgent } from "@loopy/agents/registry";
import { parseSpace } from "@loopy/research-math/space";
import { badInput } from "../shared/errors.ts";
import { git, resolveCommit } from "../shared/git.ts";
import { globToRegExp } from "../shared/glob.ts";
import { findProject } from "../projects/projects.ts";
import { findProfile } from "../projects/profiles.ts";
import { committedFileHash } from "./files.ts";
import type { ResearchLaunchDeps } from "./ports.ts";

export const MAX_BUDGET_MS = 24 * 3_600_000;
const METRIC_NAME = /^[A-Za-z_][\w./-]*$/;
const SLOT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;

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

/** A research loop's row, checked, before it has an id. */
export type PreparedLoop = Omit<Prisma.ResearchLoopUncheckedCreateInput, "id" | "branch">;

/**
 * Validates a research loop (everything createResearchLoop checks) and
 * returns its row; writes nothing.
 */
export async function prepareResearchLoop(
  deps: Pick<ResearchLaunchDeps, "db" | "agentBinDirs">,
  input: CreateResearchLoopInput,
): Promise<PreparedLoop> {
  const project = await findProject(deps.db, input.project);
  const settings = checkSettings(input);
  const { proposer, space, agentProfileId } = await chooseProposer(deps, input);

  const baseRef = input.baseRef?.trim() || project.defaultBranch;
  const baseSha = await resolveCommit(project.path, baseRef);
  if (!baseSha) throw badInput(`Base ref "${baseRef}" does not exist in project "${project.name}" (${project.path})`);
  const { editable, protectedFiles } = await checkFiles(
    { ...project, baseRef, baseSha },
    input,
    proposer,
    settings.paramsFile,
  );

  const { command, metric } = settings;
  const name =
    input.name?.trim() ||
    `${metric} ${input.direction === "min" ? "↓" : "↑"} · ${proposer} · ${command.length > 60 ? `${command.slice(0, 57)}...` : command}`;
  return {
    ...settings,
    projectId: project.id,
    name: name.slice(0, 200),
    instructions: input.instructions ?? "",
    editableGlobs: editable,
    protectedFiles,
    direction: input.direction,
    costLimitUsd: input.costLimitUsd,
    proposer,
    space,
    agentProfileId,
    baseRef,
    baseSha,
  };
}

/** The command, metric and direction, budget and limits, seeds and repeats, params file and slots. */
function checkSettings(input: CreateResearchLoopInput) {
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
  return {
    command,
    metric,
    budgetMs,
    hardKillMultiple,
    maxExperiments,
    wallClockMs,
    seed,
    noiseRepeats,
    confirmRuns,
    paramsFile,
    slots,
  };
}

/** Proposer: an optimizer over a search space, or an agent profile that can run here. */
async function chooseProposer(
  deps: Pick<ResearchLaunchDeps, "db" | "agentBinDirs">,
  input: CreateResearchLoopInput,
): Promise<{ proposer: "random" | "tpe" | "agent"; space?: object; agentProfileId?: string }> {
  if (input.optimizer && input.agent)
    throw badInput(
      "Choose one proposer: an optimizer (--optimizer with --space) or an agent profile (--agent), not both",
    );
  if (input.agent) {
    const profile = await findProfile(deps.db, input.agent);
    if (!profile)
      throw badInput(
        `No agent profile "${input.agent}". Save one with "loopy profile add", or use --optimizer random|tpe with --space`,
      );
    const adapter = findAgent(profile.adapter);
    if (adapter?.takes !== "prompt")
      throw badInput(
        `Profile "${profile.name}" uses the ${profile.adapter} adapter, which cannot edit files from instructions; choose an LLM agent profile`,
      );
    const missing = await adapter.unavailable({ binDirs: deps.agentBinDirs, profile: profile.config });
    if (missing) throw badInput(`Profile "${profile.name}" cannot run here: ${missing}`);
    return { proposer: "agent", agentProfileId: profile.id };
  }
  if (input.optimizer) {
    if (input.optimizer !== "random" && input.optimizer !== "tpe")
      throw badInput(`Optimizer must be "random" or "tpe", got "${String(input.optimizer)}"`);
    if (input.space === undefined || input.space === null)
      throw badInput(
        `The ${input.optimizer} optimizer needs a search space (--space FILE with JSON like {"lr": {"type": "log-float", "low": 1e-4, "high": 1e-1}})`,
      );
    try {
      return { proposer: input.optimizer, space: parseSpace(input.space) };
    } catch (error) {
      throw badInput((error as Error).message);
    }
  }
  throw badInput("No proposer: give an optimizer (random or tpe) with a search space, or an agent profile");
}

/** Editable globs that match files at the base commit, and protected files that exist there (with their sha256). */
async function checkFiles(
  base: { name: string; path: string; baseRef: string; baseSha: string },
  input: CreateResearchLoopInput,
  proposer: "random" | "tpe" | "agent",
  paramsFile: string,
): Promise<{ editable: string[]; protectedFiles: Record<string, string> }> {
  const files = await trackedFiles(base.path, base.baseSha);
  const editable = [...new Set((input.editable ?? []).map((g) => g.trim()).filter(Boolean))];
  if (proposer !== "agent" && !editable.includes(paramsFile)) editable.push(paramsFile);
  if (editable.length === 0)
    throw badInput("No editable files: give the globs of files the agent may change (e.g. train.py)");
  for (const glob of editable) {
    // The optimizer's params file may be new: it is written before the first candidate.
    if (proposer !== "agent" && glob === paramsFile) continue;
    const re = globToRegExp(glob);
    if (!files.some((f) => re.test(f)))
      throw badInput(`Editable glob "${glob}" matches no file in ${base.name} at ${base.baseRef}`);
  }
  const protectedFiles: Record<string, string> = {};
  for (const raw of input.protected ?? []) {
    const file = relativePath(raw, "A protected file");
    if (!files.includes(file))
      throw badInput(`Protected file "${file}" does not exist in ${base.name} at ${base.baseRef}`);
    if (editable.some((g) => globToRegExp(g).test(file)))
      throw badInput(`"${file}" is both protected and editable; take it out of one list`);
    protectedFiles[file] = await committedFileHash(base.path, base.baseSha, file);
  }
  return { editable, protectedFiles };
}

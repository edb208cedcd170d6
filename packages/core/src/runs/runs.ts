import path from "node:path";
import type { Prisma, Db, RunStatus } from "@loopy/db/client";
import { findAgent, agentNames } from "@loopy/agents/registry";
import { badInput, conflict, notFound } from "../shared/errors.ts";
import { resolveCommit } from "../shared/git.ts";
import { removeWorkspace } from "../projects/workspace.ts";
import { newId } from "../shared/ids.ts";
import { findProject, type ProjectView } from "../projects/projects.ts";
import { normalizeTags, parseRoutingRules, routeByTags } from "../projects/routing.ts";
import { findProfile, listProfiles, type ProfileView } from "../projects/profiles.ts";
import { parseCheckpoints } from "./turn/checkpoints.ts";
import { checkSecretName, missingSecrets } from "../secrets/store.ts";
import { appendRunEvents, type StoredRunEvent } from "../live/run-events.ts";
import { isTerminal, sourcesOf } from "./run-status.ts";
import type { CoreDeps, LaunchDeps } from "../shared/ports.ts";
import { recordWaiting, WAITING_STATUSES, withRunTimes, type RunTimes } from "./run-times.ts";

const MAX_TIMEOUT_MS = 24 * 3_600_000;

export const runSummarySelect = {
  id: true,
  status: true,
  turns: true,
  inputTokens: true,
  outputTokens: true,
  costUsd: true,
  checksPassed: true,
  mergedSha: true,
  statusReason: true,
  agent: true,
  branch: true,
  baseRef: true,
  baseSha: true,
  headSha: true,
  timeoutMs: true,
  exitCode: true,
  additions: true,
  deletions: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
  // The waiting clock, for `times` (see run-times.ts).
  reviewWaitMs: true,
  waitingSince: true,
  // The target branch and strategy, so a merge can be confirmed by name before it happens.
  project: { select: { id: true, name: true, path: true, defaultBranch: true, mergeStrategy: true } },
  task: {
    select: {
      id: true,
      title: true,
      prompt: true,
      tags: true,
      routedBy: true,
      agentProfile: { select: { id: true, name: true } },
    },
  },
  fleetId: true,
  memberIndex: true,
} as const;

const runDetailSelect = {
  ...runSummarySelect,
  worktreePath: true,
  logTail: true,
  diffStats: true,
} as const;

/** A run as lists show it, with its agent, checks and waiting times (see run-times.ts). */
export type RunSummary = Prisma.RunGetPayload<{ select: typeof runSummarySelect }> & { times: RunTimes };
export type RunDetail = Prisma.RunGetPayload<{ select: typeof runDetailSelect }> & { times: RunTimes };

export interface LaunchRunInput {
  /** Project id or name. */
  project: string;
  /**
   * An adapter name (`command`, `claude-code`, ...) or the name of an agent profile.
   * When omitted, the project's routing rules pick it from `tags` (else `command`).
   */
  agent?: string;
  /** Labels the project's routing rules match. */
  tags?: string[];
  /** For the command agent: the shell command. */
  command?: string;
  /** For LLM agents: the task. */
  prompt?: string;
  /** Checkpoints for this task, added to (or replacing by name) the project's. */
  checkpoints?: unknown;
  /** Branch, tag or commit to start from; the project's default branch when omitted. */
  baseRef?: string;
  timeoutMs?: number;
  title?: string;
  /** Stored secrets the agent needs besides its profile's, injected into its environment under their names. */
  secrets?: string[];
}

/** Everything a run's rows are made of, checked: what `launchRun` (and a fleet, per member) writes. */
export interface PreparedLaunch {
  project: ProjectView;
  profile: ProfileView | null;
  /** The adapter's name. */
  agent: string;
  instruction: string;
  checkpoints: unknown;
  timeoutMs: number;
  baseRef: string;
  baseSha: string;
  title: string;
  tags: string[];
  /** The routing rule that chose the agent, when one did. */
  routedBy: string | null;
  /** Stored secrets the task names (checked to exist). */
  secretNames: string[];
}

/**
 * Validates a launch: everything a worker would trip over later (project, agent
 * or routing, instruction, checkpoints, timeout, base ref). Writes nothing;
 * throws BAD_INPUT (or NOT_FOUND for the project) with a message a user can act on.
 */
export async function prepareLaunch(
  deps: Pick<LaunchDeps, "db" | "agentBinDirs" | "defaultTimeoutMs">,
  input: LaunchRunInput,
): Promise<PreparedLaunch> {
  const { db } = deps;
  const project = await findProject(db, input.project);
  const tags = normalizeTags(input.tags);
  let agentName = input.agent?.trim() || "";
  let routedBy: string | null = null;
  if (!agentName) {
    const route = routeByTags(parseRoutingRules(project.routingRules), tags);
    agentName = route?.agent ?? "command";
    routedBy = route?.rule ?? null;
  }
  const profile = await findProfile(db, agentName);
  const adapter = findAgent(profile?.adapter ?? agentName);
  if (!adapter) {
    const profiles = (await listProfiles(db)).map((p) => p.name);
    const via = routedBy ? ` (chosen by the routing rule "${routedBy}" of project "${project.name}")` : "";
    throw badInput(
      `Unknown agent "${agentName}"${via}. Adapters: ${agentNames().join(", ")}${profiles.length ? `; profiles: ${profiles.join(", ")}` : ""}`,
    );
  }
  const instruction = (adapter.takes === "command" ? input.command : (input.prompt ?? input.command))?.trim();
  if (!instruction) {
    throw badInput(
      adapter.takes === "command"
        ? "Command is empty: give the shell command the run should execute"
        : "Prompt is empty: say what the agent should do",
    );
  }
  const missing = await adapter.unavailable({ binDirs: deps.agentBinDirs, profile: profile?.config });
  if (missing)
    throw badInput(`${profile ? `Profile "${profile.name}"` : `Agent "${adapter.name}"`} cannot run here: ${missing}`);
  let checkpoints: unknown;
  if (input.checkpoints !== undefined) {
    try {
      checkpoints = parseCheckpoints(input.checkpoints, "the task");
    } catch (error) {
      throw badInput((error as Error).message);
    }
  }
  const timeoutMs = input.timeoutMs ?? deps.defaultTimeoutMs;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > MAX_TIMEOUT_MS) {
    throw badInput(`Timeout must be between 100ms and 24h, got ${timeoutMs}ms`);
  }
  const baseRef = input.baseRef?.trim() || project.defaultBranch;
  const baseSha = await resolveCommit(project.path, baseRef);
  if (!baseSha) throw badInput(`Base ref "${baseRef}" does not exist in project "${project.name}" (${project.path})`);
  const title = input.title?.trim() || firstLine(instruction);
  const secretNames = [...new Set(input.secrets ?? [])];
  if (secretNames.length > 20) throw badInput("A run names at most 20 secrets");
  secretNames.forEach(checkSecretName);
  const unset = await missingSecrets(db, secretNames);
  if (unset.length)
    throw badInput(
      `No stored secret named ${unset.join(", ")}. Set it first with "loopy secret set NAME"; list them with "loopy secrets"`,
    );
  return {
    project,
    profile,
    agent: adapter.name,
    instruction,
    checkpoints,
    timeoutMs,
    baseRef,
    baseSha,
    title,
    tags,
    routedBy,
    secretNames,
  };
}

/** Writes a prepared launch's task, run (queued) and first turn, inside the caller's transaction. */
async function createRunRows(
  tx: Prisma.TransactionClient,
  prepared: PreparedLaunch,
  runId: string,
  fleet?: { fleetId: string; memberIndex: number; dependsOn?: string[] },
): Promise<void> {
  const { project, profile } = prepared;
  await tx.task.create({
    data: {
      id: newId(),
      projectId: project.id,
      agent: prepared.agent,
      agentProfileId: profile?.id,
      title: prepared.title,
      prompt: prepared.instruction,
      baseRef: prepared.baseRef,
      checkpoints: prepared.checkpoints as object | undefined,
      tags: prepared.tags,
      routedBy: prepared.routedBy,
      secretNames: prepared.secretNames,
      runs: {
        create: {
          id: runId,
          projectId: project.id,
          agent: prepared.agent,
          baseRef: prepared.baseRef,
          baseSha: prepared.baseSha,
          branch: `loopy/run-${runId}`,
          timeoutMs: prepared.timeoutMs,
          ...(fleet
            ? { fleetId: fleet.fleetId, memberIndex: fleet.memberIndex, dependsOn: fleet.dependsOn ?? [] }
            : {}),
          runTurns: { create: { id: newId(), index: 0, kind: "initial", prompt: prepared.instruction } },
        },
      },
    },
  });
}

/**
 * Writes many prepared launches (a fleet's members) in a handful of
 * statements instead of four per member, inside the caller's transaction, with
 * each run's first event ("queued"). Returns the stored events per run.
 */
export async function createRunRowsMany(
  tx: Prisma.TransactionClient,
  members: Array<{
    prepared: PreparedLaunch;
    runId: string;
    fleet?: { fleetId: string; memberIndex: number; dependsOn?: string[] };
  }>,
): Promise<Map<string, StoredRunEvent[]>> {
  const taskIds = members.map(() => newId());
  await tx.task.createMany({
    data: members.map(({ prepared }, i) => ({
      id: taskIds[i] as string,
      projectId: prepared.project.id,
      agent: prepared.agent,
      agentProfileId: prepared.profile?.id,
      title: prepared.title,
      prompt: prepared.instruction,
      baseRef: prepared.baseRef,
      checkpoints: prepared.checkpoints as object | undefined,
      tags: prepared.tags,
      routedBy: prepared.routedBy,
      secretNames: prepared.secretNames,
    })),
  });
  await tx.run.createMany({
    data: members.map(({ prepared, runId, fleet }, i) => ({
      id: runId,
      taskId: taskIds[i] as string,
      projectId: prepared.project.id,
      agent: prepared.agent,
      baseRef: prepared.baseRef,
      baseSha: prepared.baseSha,
      branch: `loopy/run-${runId}`,
      timeoutMs: prepared.timeoutMs,
      ...(fleet ? { fleetId: fleet.fleetId, memberIndex: fleet.memberIndex, dependsOn: fleet.dependsOn ?? [] } : {}),
    })),
  });
  await tx.runTurn.createMany({
    data: members.map(({ prepared, runId }) => ({
      id: newId(),
      runId,
      index: 0,
      kind: "initial",
      prompt: prepared.instruction,
    })),
  });
  const rows = await tx.runEvent.createManyAndReturn({
    data: members.map(({ runId }) => ({ runId, type: "status", data: { type: "status", status: "queued" } })),
    select: { id: true, runId: true, data: true, createdAt: true },
  });
  const stored = new Map<string, StoredRunEvent[]>();
  for (const row of rows)
    stored.set(row.runId, [
      {
        id: row.id.toString(),
        runId: row.runId,
        at: row.createdAt.toISOString(),
        event: row.data as StoredRunEvent["event"],
      },
    ]);
  return stored;
}

/**
 * Launches a run: validates everything a worker would trip over later, writes the
 * task and run rows (status queued) and only then queues the job, whose id is
 * the run id. If queueing fails the run is marked failed with the reason, so
 * nothing is silently lost.
 */
export async function launchRun(deps: LaunchDeps, input: LaunchRunInput): Promise<RunSummary> {
  const { db } = deps;
  const prepared = await prepareLaunch(deps, input);
  const runId = newId();
  const queued = await db.$transaction(async (tx) => {
    await createRunRows(tx, prepared, runId);
    return appendRunEvents(tx, null, runId, [{ type: "status", status: "queued" }]);
  });
  await deps.notifier.runEvents(runId, queued);
  await deps.notifier.runChanged(runId, "queued");
  try {
    await deps.scheduler.enqueue(runId);
  } catch (error) {
    await transitionRun(deps, runId, "failed", { reason: `Could not queue the run: ${(error as Error).message}` });
  }
  return getRun(db, runId);
}

function firstLine(text: string): string {
  const line = text.split("\n")[0] ?? "";
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

export async function getRun(db: Db, runId: string): Promise<RunDetail> {
  const run = await db.run.findUnique({ where: { id: runId }, select: runDetailSelect });
  if (!run) throw notFound(`No run "${runId}". List runs with "loopy runs".`);
  return (await withRunTimes(db, [run]))[0]!;
}

/** The whole run's diff: base commit → latest head (`to` is null until a turn has committed). */
export async function getRunDiff(
  db: Db,
  runId: string,
): Promise<{
  id: string;
  status: RunStatus;
  diff: string | null;
  diffStats: unknown;
  from: string;
  to: string | null;
}> {
  const run = await db.run.findUnique({
    where: { id: runId },
    select: { id: true, status: true, diff: true, diffStats: true, baseSha: true, headSha: true },
  });
  if (!run) throw notFound(`No run "${runId}". List runs with "loopy runs".`);
  const { baseSha, headSha, ...rest } = run;
  return { ...rest, from: baseSha, to: headSha };
}

export interface ListRunsInput {
  projectId?: string;
  status?: RunStatus;
  limit?: number;
  /** Cursor: the id of the last run of the previous page. */
  cursor?: string;
}

/** Runs, newest first. */
export async function listRuns(
  db: Db,
  input: ListRunsInput = {},
): Promise<{ runs: RunSummary[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(input.limit ?? 100, 1), 500);
  const runs = await db.run.findMany({
    where: { projectId: input.projectId, status: input.status },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit + 1,
    ...(input.cursor ? { cursor: { id: input.cursor }, skip: 1 } : {}),
    select: runSummarySelect,
  });
  const next = runs.length > limit ? runs.pop() : undefined;
  return { runs: await withRunTimes(db, runs), nextCursor: next ? (runs[runs.length - 1]?.id ?? null) : null };
}

export interface TransitionOptions {
  reason?: string;
  from?: RunStatus[];
  data?: Prisma.RunUpdateManyMutationInput;
  keepStartedAt?: boolean;
  holder?: string;
}

/**
 * `transitionRun`'s write inside the caller's transaction (so the move commits
 * with the caller's other rows): returns the stored status event, or null when
 * the run was not in a `from` state. The caller notifies after the commit.
 */
export async function transitionRunIn(
  tx: Prisma.TransactionClient,
  runId: string,
  to: RunStatus,
  options: TransitionOptions = {},
): Promise<StoredRunEvent[] | null> {
  const from = options.from ?? sourcesOf(to);
  const now = new Date();
  const { count } = await tx.run.updateMany({
    // With `holder`: only while that worker still holds the run (another may have taken it over).
    where: { id: runId, status: { in: from }, ...(options.holder ? { holder: options.holder } : {}) },
    data: {
      ...options.data,
      status: to,
      statusReason: options.reason ?? null,
      ...(to === "running" && !options.keepStartedAt ? { startedAt: now } : {}),
      ...(isTerminal(to) ? { finishedAt: now } : {}),
    },
  });
  if (count === 0) return null;
  if (from.some((s) => WAITING_STATUSES.includes(s)) || WAITING_STATUSES.includes(to))
    await recordWaiting(tx, runId, to, now);
  return appendRunEvents(tx, null, runId, [
    { type: "status", status: to, ...(options.reason ? { reason: options.reason } : {}) },
  ]);
}

/**
 * Moves a run to `to` if it is in a state from which `to` may be reached, in one
 * conditional UPDATE, and records the move as an event. Returns false when the
 * run was not in such a state (someone else moved it first).
 */
export async function transitionRun(
  deps: CoreDeps,
  runId: string,
  to: RunStatus,
  options: TransitionOptions = {},
): Promise<boolean> {
  // The row and its status event change together, or not at all.
  const stored = await deps.db.$transaction((tx) => transitionRunIn(tx, runId, to, options));
  if (!stored) return false;
  await deps.notifier.runEvents(runId, stored);
  await deps.notifier.runChanged(runId, to);
  return true;
}

/**
 * Cancels a run. A queued run is cancelled at once and its job removed; a
 * running one is asked to stop, and its worker kills the process group and
 * records the cancellation.
 */
export async function cancelRun(deps: LaunchDeps, runId: string): Promise<RunDetail> {
  const run = await getRun(deps.db, runId);
  if (isTerminal(run.status)) throw conflict(`Run ${runId} already ended (${run.status}); nothing to cancel`);
  if (run.status === "awaiting_review" || run.status === "needs_attention") {
    // Nothing runs; the run just ends and its worktree goes.
    if (
      await transitionRun(deps, runId, "cancelled", {
        from: [run.status],
        reason: "Cancelled while waiting for review",
      })
    ) {
      // Best effort: the run is cancelled, and a worker's reconcile on start removes an ended run's leftover worktree.
      await removeWorkspace(run.project.path, worktreePathFor(deps.loopyHome, runId)).catch(() => undefined);
      await deps.db.run.update({ where: { id: runId }, data: { worktreePath: null } });
      return getRun(deps.db, runId);
    }
  }
  if (run.status === "queued") {
    await deps.scheduler.remove(runId);
    if (await transitionRun(deps, runId, "cancelled", { from: ["queued"], reason: "Cancelled before it started" })) {
      return getRun(deps.db, runId);
    }
  }
  await appendRunEvents(deps.db, deps.notifier, runId, [{ type: "cancel_requested" }]);
  await deps.scheduler.requestCancel(runId);
  return getRun(deps.db, runId);
}

/** Where a run's worktree lives under LOOPY_HOME. */
export function worktreePathFor(loopyHome: string, runId: string): string {
  return path.join(loopyHome, "worktrees", runId);
}

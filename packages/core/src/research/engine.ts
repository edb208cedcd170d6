import { hostname } from "node:os";
import path from "node:path";
import type { Db } from "@loopy/db/client";
import { findAgent } from "@loopy/agents/registry";
import { profileSecretNames } from "@loopy/agents/adapter";
import type { SandboxPolicy } from "@loopy/agents/sandbox";
import { nextStep, judge, confirmSeeds, describeParams, type Measurement, type Verdict } from "@loopy/research-math/plan";
import { noiseFloor } from "@loopy/research-math/decide";
import type { Params } from "@loopy/research-math/space";
import { resetWorkspace, snapshotWorkspace, type Workspace } from "../workspace.ts";
import { workspaceSandbox, type EgressSettings } from "../confinement.ts";
import { diffCommits, type FileChange } from "../diff.ts";
import { matchesAny } from "../glob.ts";
import { newId } from "../ids.ts";
import { profileConfigSchema } from "../profiles.ts";
import { stripNul } from "../run-events.ts";
import { secretsForAgent } from "../secrets/inject.ts";
import { Redactor } from "../secrets/redact.ts";
import { appendResearchEvents, type ResearchEventData, type StoredResearchEvent } from "./events.ts";
import { changedProtectedFiles } from "./files.ts";
import { finishLoop } from "./loops.ts";
import { measure, type MeasureResult } from "./measure.ts";
import type { ResearchDeps } from "./ports.ts";
import {
  agentPrompt,
  proposeParams,
  readParamsFile,
  runAgentProposer,
  writeParamsFile,
  type BoardRow,
  type HistoryRow,
} from "./proposers.ts";
import { acquireSlot, releaseSlots, renewSlots } from "./slots.ts";
import {
  dropLoopWorktree,
  ensureLoopWorktree,
  killOrphanExperiment,
  loopWorktreePath,
  pinExperimentCommit,
} from "./worktree.ts";

export interface ResearchEngineDeps extends ResearchDeps {
  loopyHome: string;
  agentBinDirs?: string[];
  /** Values of the worker's environment variables an agent profile names as secrets (when no stored secret has the name). */
  secrets?: (names: string[]) => Record<string, string>;
  /** LOOPY_MASTER_KEY; else the key file in loopyHome decrypts stored secrets. */
  masterKey?: string;
  /** LOOPY_SANDBOX, for the agent proposer's processes and the experiments (GPU devices stay reachable). Off when not given. */
  sandbox?: SandboxPolicy["mode"];
  /** What sandboxed processes may reach through the egress proxy, and Loopy's own services they never may. */
  egress?: EgressSettings;
  /** This worker's identity in loop and slot leases. */
  holder: string;
  /** How long a loop or slot stays held without a heartbeat. */
  leaseMs: number;
  /** Time limit of one agent proposer turn. */
  agentTimeoutMs?: number;
  log?: (message: string) => void;
}

/** The abort reason a worker gives when it shuts down: the loop is handed over, not ended. */
export const SHUTDOWN = "its worker shut down";
/** An interrupted experiment is re-run this many times in all before it is recorded as crashed. */
export const MAX_ATTEMPTS = 2;

const loopSelect = {
  id: true,
  projectId: true,
  status: true,
  holder: true,
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
  space: true,
  paramsFile: true,
  seed: true,
  noiseRepeats: true,
  confirmRuns: true,
  slots: true,
  instructions: true,
  editableGlobs: true,
  protectedFiles: true,
  branch: true,
  baseSha: true,
  bestExperimentId: true,
  bestCommit: true,
  bestMetric: true,
  noiseFloor: true,
  startedAt: true,
  project: { select: { path: true, egressHosts: true } },
  agentProfile: { select: { adapter: true, config: true } },
} as const;

type LoopRow = NonNullable<Awaited<ReturnType<typeof loadLoop>>>;
type ExperimentRow = Awaited<ReturnType<typeof loadExperiments>>[number];

function loadLoop(db: Db, loopId: string) {
  return db.researchLoop.findUnique({ where: { id: loopId }, select: loopSelect });
}

function loadExperiments(db: Db, loopId: string) {
  return db.experiment.findMany({
    where: { loopId },
    orderBy: { index: "asc" },
    select: {
      id: true,
      index: true,
      kind: true,
      status: true,
      params: true,
      description: true,
      seed: true,
      commitSha: true,
      parentSha: true,
      metricValue: true,
      reason: true,
      attempt: true,
      claimToken: true,
      pid: true,
      host: true,
      confirmsId: true,
    },
  });
}

interface Ctx {
  deps: ResearchEngineDeps;
  loopId: string;
  repo: string;
  /** Hosts the project lets its sandboxed processes reach. */
  egressHosts: string[];
  /** The loop's branch (`loopy/research-<id>`), Loopy's alone. */
  branch: string;
  worktree: string;
  signal: AbortSignal;
  /** The commit the worktree was last reset to, while nothing has touched it since (saves a reset). */
  cleanAt: string | null;
}

/** Resets the worktree to `sha` and remembers it is clean there. */
async function resetTo(ctx: Ctx, sha: string): Promise<void> {
  ctx.cleanAt = null;
  await resetWorkspace(workspaceOf(ctx), sha);
  ctx.cleanAt = sha;
}

/** Stores events and pushes them; pushing is best effort (the notifier logs its own failures). */
async function record(ctx: Ctx, events: ResearchEventData[]): Promise<void> {
  await appendResearchEvents(ctx.deps.db, ctx.deps.researchNotifier, ctx.loopId, events);
}

async function push(ctx: Ctx, stored: StoredResearchEvent[] | null): Promise<void> {
  if (stored?.length) await ctx.deps.researchNotifier.loopEvents(ctx.loopId, stored);
}

/**
 * Claims a loop for this worker with one conditional UPDATE: a queued loop, or
 * a running one whose holder stopped renewing its lease (a worker that died).
 * Database time decides staleness, so clocks of different machines never matter.
 */
async function claimLoop(deps: ResearchEngineDeps, loopId: string): Promise<"claimed" | "resumed" | null> {
  const rows = await deps.db.$queryRaw<Array<{ resumed: boolean }>>`
    UPDATE research_loops AS l
       SET status = 'running', holder = ${deps.holder}, heartbeat_at = now(), started_at = COALESCE(l.started_at, now()), status_reason = NULL
      FROM (SELECT id, status FROM research_loops WHERE id = ${loopId} FOR UPDATE) AS before
     WHERE l.id = before.id
       AND (l.status = 'queued'
            OR (l.status = 'running' AND (l.holder IS NULL OR l.holder = ${deps.holder} OR l.heartbeat_at IS NULL OR l.heartbeat_at < now() - ${deps.leaseMs}::int * interval '1 millisecond')))
    RETURNING before.status = 'running' AS resumed`;
  const row = rows[0];
  if (!row) return null;
  return row.resumed ? "resumed" : "claimed";
}

/**
 * Executes a research loop in the worker until it completes, fails, is
 * cancelled, or this worker lets go of it (shutdown: another worker resumes).
 *
 * Every step is decided from what Postgres holds (nextStep), and each
 * experiment is claimed with a conditional update and finished with another
 * that checks the claim, so a loop taken over after a crash neither loses an
 * experiment nor counts one twice. The interrupted experiment is re-run (up to
 * MAX_ATTEMPTS claims), its partial points dropped, any process it left
 * killed, and the worktree reset to the best commit before going on.
 */
export async function executeResearchLoop(
  deps: ResearchEngineDeps,
  loopId: string,
  signal: AbortSignal,
): Promise<void> {
  const { db } = deps;
  const log = deps.log ?? (() => undefined);
  let claim = await claimLoop(deps, loopId);
  // A job that comes back while the dead holder's lease still runs: wait the lease out, a few times at most.
  for (let wait = 0; !claim && wait < 3 && !signal.aborted; wait++) {
    const row = await db.researchLoop.findUnique({ where: { id: loopId }, select: { status: true } });
    if (!row || row.status !== "running") return;
    await sleep(deps.leaseMs + 250, signal);
    claim = await claimLoop(deps, loopId);
  }
  if (!claim) return;
  const first = await loadLoop(db, loopId);
  if (!first) return;
  const ctxController = new AbortController();
  const onAbort = () => ctxController.abort(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  const ctx: Ctx = {
    deps,
    loopId,
    repo: first.project.path,
    egressHosts: (first.project.egressHosts as string[] | null) ?? [],
    branch: first.branch,
    worktree: loopWorktreePath(deps.loopyHome, loopId),
    signal: ctxController.signal,
    cleanAt: null,
  };
  await record(ctx, [
    {
      type: "loop",
      status: "running",
      ...(claim === "resumed" ? { reason: "resumed by another worker after its holder stopped" } : {}),
    },
  ]);
  await deps.researchNotifier.loopChanged(loopId, "running");

  const heartbeat = setInterval(
    () => {
      void (async () => {
        try {
          // Paused: the experiment in progress still finishes, so the hold is kept until then.
          const held =
            await db.$executeRaw`UPDATE research_loops SET heartbeat_at = now() WHERE id = ${loopId} AND holder = ${deps.holder} AND status IN ('running', 'paused')`;
          if (held === 0) ctxController.abort("the loop ended or another worker took it over");
          else await renewSlots(db, deps.holder, loopId, deps.leaseMs);
        } catch (error) {
          log(`research loop ${loopId}: heartbeat failed: ${(error as Error).message}`);
        }
      })();
    },
    Math.max(50, Math.floor(deps.leaseMs / 3)),
  );

  let failure: Error | undefined;
  let ending: Ending | null = null;
  let paused = false;
  try {
    await recoverInterrupted(ctx);
    await ensureLoopWorktree(ctx.repo, ctx.worktree, first.branch, first.baseSha);
    await db.researchLoop.update({ where: { id: loopId }, data: { worktreePath: ctx.worktree } });
    await resetTo(ctx, first.bestCommit ?? first.baseSha);
    for (;;) {
      if (ctx.signal.aborted) break;
      const loop = await loadLoop(db, loopId);
      if (loop?.status === "paused" && loop.holder === deps.holder) {
        // Paused: the last experiment is recorded; let go of the loop (its worktree stays for the resume).
        // Conditional on the row: a resume that came first set it running again, and the loop goes on.
        const released = await db.$transaction(async (tx) => {
          const { count } = await tx.researchLoop.updateMany({
            where: { id: loopId, holder: deps.holder, status: "paused" },
            data: { holder: null, heartbeatAt: null },
          });
          return count
            ? appendResearchEvents(tx, null, loopId, [{ type: "loop", status: "paused", reason: "Paused by a user" }])
            : null;
        });
        if (!released) continue;
        await push(ctx, released);
        paused = true;
        break;
      }
      if (!loop || loop.status !== "running" || loop.holder !== deps.holder) break;
      const limit = limitReached(loop);
      if (limit) {
        ending = { to: "completed", reason: limit };
        break;
      }
      const experiments = await loadExperiments(db, loopId);
      let experiment = experiments.find((e) => e.status === "queued" && e.kind !== "confirm");
      if (!experiment) {
        const step = nextStep(
          loop,
          experiments.filter((e) => e.kind !== "confirm"),
        );
        if (step.kind === "done") {
          ending = { to: step.outcome, reason: step.reason };
          break;
        }
        experiment = await createExperiment(ctx, loop, experiments, step.kind, step.seed);
      }
      await runExperiment(ctx, loop, experiment);
    }
  } catch (error) {
    failure = error as Error;
    log(`research loop ${loopId} failed: ${failure.stack ?? failure.message}`);
  } finally {
    clearInterval(heartbeat);
    signal.removeEventListener("abort", onAbort);
  }
  if (paused && !failure) {
    await releaseSlots(db, { holder: deps.holder, loopId }).catch(() => undefined);
    return;
  }
  if (!ending && failure) ending = { to: "failed", reason: failure.message };
  await settle(ctx, ending, signal.reason === SHUTDOWN);
}

type Ending = { to: "completed" | "failed"; reason: string };

/**
 * After the main loop: end the loop (its worktree goes first, so whoever sees
 * the end state sees a finished loop), hand it over (shutdown), or clean up
 * after a loop someone else ended (a cancel).
 */
async function settle(ctx: Ctx, ending: Ending | null, shutdown: boolean): Promise<void> {
  const { db } = ctx.deps;
  const holder = ctx.deps.holder;
  const loop = await db.researchLoop.findUnique({ where: { id: ctx.loopId }, select: { status: true, holder: true } });
  if (!loop) return;
  const mine = loop.status === "running" && loop.holder === holder;
  if (mine && shutdown && !ending) {
    // Hand over: the experiment goes back to the queue without costing an attempt, and the loop is free to claim at once.
    const stored = await db.$transaction(async (tx) => {
      const back = await tx.experiment.findMany({
        where: { loopId: ctx.loopId, status: "running", kind: { not: "confirm" } },
        select: { id: true, index: true, kind: true },
      });
      await tx.experiment.deleteMany({
        where: { loopId: ctx.loopId, kind: "confirm", confirmsId: { in: back.map((b) => b.id) } },
      });
      await tx.experimentPoint.deleteMany({ where: { experimentId: { in: back.map((b) => b.id) } } });
      await tx.experiment.updateMany({
        where: { id: { in: back.map((b) => b.id) } },
        data: { ...requeued, attempt: { decrement: 1 }, reason: "re-run: its worker shut down mid-experiment" },
      });
      await tx.researchLoop.updateMany({
        where: { id: ctx.loopId, holder },
        data: { holder: null, heartbeatAt: null },
      });
      return appendResearchEvents(tx, null, ctx.loopId, [
        ...back.map((b) => ({
          type: "experiment" as const,
          experimentId: b.id,
          index: b.index,
          kind: b.kind,
          status: "queued" as const,
          metric: null,
          reason: "re-run: its worker shut down mid-experiment",
        })),
        { type: "loop", status: "running", reason: "released by a worker that shut down; the next worker resumes it" },
      ]);
    });
    await push(ctx, stored);
    await releaseSlots(db, { holder, loopId: ctx.loopId });
    return;
  }
  await releaseSlots(db, { holder, loopId: ctx.loopId }).catch(() => undefined);
  if (!mine && !["completed", "failed", "cancelled"].includes(loop.status)) return; // another worker has it now
  if (!mine && loop.holder && loop.holder !== holder) return;
  await cleanUp(ctx, ending?.reason);
  if (mine && ending) await finishLoop(ctx.deps, ctx.loopId, ending.to, ending.reason, ["running"], { holder });
}

/**
 * What an ending loop leaves tidy: experiments still "running" are recorded
 * as crashed (once, by their claim), processes they left are killed, slots
 * released, the worktree reset to the best commit and removed (the branch stays).
 */
async function cleanUp(ctx: Ctx, reason?: string): Promise<void> {
  const { db } = ctx.deps;
  const after = await db.researchLoop.findUnique({
    where: { id: ctx.loopId },
    select: { status: true, statusReason: true, bestCommit: true, baseSha: true },
  });
  if (!after) return;
  const why =
    reason ??
    (after.status === "cancelled"
      ? "cancelled with its loop"
      : `stopped: the loop ${after.status}${after.statusReason ? ` (${after.statusReason})` : ""}`);
  const orphans = await db.experiment.findMany({
    where: { loopId: ctx.loopId, status: "running" },
    select: { id: true, index: true, kind: true, claimToken: true, pid: true, host: true },
  });
  for (const o of orphans) killOrphanExperiment(o.pid, o.host, ctx.worktree);
  for (const o of orphans) {
    const { count } = await db.experiment.updateMany({
      where: { id: o.id, status: "running", claimToken: o.claimToken },
      data: { status: "crash", reason: why, endedAt: new Date(), claimToken: null },
    });
    if (count)
      await record(ctx, [
        {
          type: "experiment",
          experimentId: o.id,
          index: o.index,
          kind: o.kind,
          status: "crash",
          metric: null,
          reason: why,
        },
      ]);
  }
  await db.researchSlotLease.deleteMany({ where: { loopId: ctx.loopId } });
  await resetWorkspace(workspaceOf(ctx), after.bestCommit ?? after.baseSha).catch(() => undefined);
  await dropLoopWorktree(ctx.repo, ctx.worktree);
  await db.researchLoop.update({ where: { id: ctx.loopId }, data: { worktreePath: null } });
}

/**
 * Tidies a loop that ended while no live worker held it (cancelled while its
 * worker was down): the sweep of any worker calls this once the last holder's
 * lease has run out.
 */
export async function cleanUpEndedLoop(deps: ResearchEngineDeps, loopId: string): Promise<void> {
  const loop = await deps.db.researchLoop.findUnique({
    where: { id: loopId },
    select: { status: true, branch: true, project: { select: { path: true } } },
  });
  if (!loop || !["completed", "failed", "cancelled"].includes(loop.status)) return;
  const ctx: Ctx = {
    deps,
    loopId,
    repo: loop.project.path,
    egressHosts: [],
    branch: loop.branch,
    worktree: loopWorktreePath(deps.loopyHome, loopId),
    signal: new AbortController().signal,
    cleanAt: null,
  };
  await cleanUp(ctx);
}

/** Fields of an experiment put back in the queue: nothing of the interrupted attempt survives. */
const requeued = {
  status: "queued" as const,
  claimToken: null,
  pid: null,
  host: null,
  slot: null,
  startedAt: null,
  endedAt: null,
  logTail: null,
  exitCode: null,
  durationMs: null,
  metricValue: null,
  metrics: undefined,
  memoryGb: null,
};

/**
 * Deals with experiments left "running" by a worker that died: kills what they
 * left running, then, in one transaction conditional on the old claim, puts
 * each back in the queue (dropping its partial points and confirm re-runs) or,
 * after MAX_ATTEMPTS claims, records it as crashed.
 */
async function recoverInterrupted(ctx: Ctx): Promise<void> {
  const { db } = ctx.deps;
  const running = await db.experiment.findMany({
    where: { loopId: ctx.loopId, status: "running" },
    select: {
      id: true,
      index: true,
      kind: true,
      attempt: true,
      claimToken: true,
      pid: true,
      host: true,
      confirmsId: true,
    },
  });
  for (const e of running) killOrphanExperiment(e.pid, e.host, ctx.worktree);
  for (const e of running) {
    if (e.kind === "confirm" && running.some((r) => r.id === e.confirmsId)) continue; // handled with its candidate
    const again = e.kind !== "confirm" && e.attempt < MAX_ATTEMPTS;
    const reason = again
      ? "re-run: its worker stopped mid-experiment"
      : `crashed: its worker stopped mid-experiment ${e.attempt} time${e.attempt === 1 ? "" : "s"}`;
    const stored = await db.$transaction(async (tx) => {
      const { count } = await tx.experiment.updateMany({
        where: { id: e.id, status: "running", claimToken: e.claimToken },
        data: again ? { ...requeued, reason } : { status: "crash", reason, endedAt: new Date(), claimToken: null },
      });
      if (count === 0) return null;
      if (again) {
        const confirms = (await tx.experiment.findMany({ where: { confirmsId: e.id }, select: { id: true } })).map(
          (c) => c.id,
        );
        await tx.experimentPoint.deleteMany({ where: { experimentId: { in: [e.id, ...confirms] } } });
        await tx.experiment.deleteMany({ where: { id: { in: confirms } } });
        await tx.researchSlotLease.deleteMany({ where: { experimentId: { in: [e.id, ...confirms] } } });
      } else {
        await tx.experiment.updateMany({
          where: { confirmsId: e.id, status: "running" },
          data: { status: "crash", reason, endedAt: new Date(), claimToken: null },
        });
        await tx.researchSlotLease.deleteMany({ where: { experimentId: e.id } });
      }
      return appendResearchEvents(tx, null, ctx.loopId, [
        {
          type: "experiment",
          experimentId: e.id,
          index: e.index,
          kind: e.kind,
          status: again ? "queued" : "crash",
          metric: null,
          reason,
        },
      ]);
    });
    await push(ctx, stored);
  }
}

function limitReached(loop: LoopRow): string | null {
  if (loop.wallClockMs !== null && loop.startedAt && Date.now() - loop.startedAt.getTime() >= loop.wallClockMs)
    return "Reached the wall-clock limit";
  if (loop.costLimitUsd !== null && loop.costUsd >= loop.costLimitUsd)
    return `Reached the cost limit ($${loop.costUsd.toFixed(4)} of $${loop.costLimitUsd})`;
  return null;
}

function history(experiments: ExperimentRow[]): HistoryRow[] {
  return experiments.map((e) => ({
    index: e.index,
    kind: e.kind,
    status: e.status,
    metricValue: e.metricValue,
    params: e.params,
    description: e.description,
    reason: e.reason,
  }));
}

/** Creates the next experiment row (queued); an optimizer's proposal is stored with it, so a re-run repeats it exactly. */
async function createExperiment(
  ctx: Ctx,
  loop: LoopRow,
  experiments: ExperimentRow[],
  kind: "baseline" | "noise" | "candidate",
  seed: number,
): Promise<ExperimentRow> {
  const optimizer = loop.proposer === "random" || loop.proposer === "tpe";
  let params: Params | Record<string, unknown> | null = null;
  let description = "";
  if (kind === "baseline") {
    description = "baseline";
    if (optimizer) params = await readParamsFile(ctx.worktree, loop.paramsFile);
  } else if (kind === "noise") {
    description = `baseline again, seed ${seed} (noise floor)`;
    params = (experiments.find((e) => e.kind === "baseline")?.params as Record<string, unknown> | null) ?? null;
  } else if (optimizer) {
    const proposal = proposeParams(loop, history(experiments));
    params = proposal;
    description = describeParams(proposal);
  }
  const index = experiments.reduce((n, e) => Math.max(n, e.index + 1), 0);
  const row = await ctx.deps.db.experiment.create({
    data: {
      id: newId(),
      loopId: ctx.loopId,
      index,
      kind,
      seed,
      params: (params ?? undefined) as object | undefined,
      description,
    },
    select: {
      id: true,
      index: true,
      kind: true,
      status: true,
      params: true,
      description: true,
      seed: true,
      commitSha: true,
      parentSha: true,
      metricValue: true,
      reason: true,
      attempt: true,
      claimToken: true,
      pid: true,
      host: true,
      confirmsId: true,
    },
  });
  await record(ctx, [
    { type: "experiment", experimentId: row.id, index, kind, status: "queued", metric: null, description },
  ]);
  return row;
}

interface Prepared {
  commit: string;
  parent: string;
  description: string;
  /** What the change touched (empty for baseline and noise runs; null when Loopy wrote it itself). */
  files: FileChange[] | null;
  /** The diff being stored in the background; awaited before the outcome is recorded. */
  details?: Promise<void>;
  /** Set when the change must not run (the agent failed, a rule was broken). */
  refused?: string;
  cancelled?: boolean;
}

/**
 * Runs one experiment under a claim: prepare the change (params file or agent
 * edit) and commit it, check the rules, hold a slot, measure, confirm if asked,
 * judge, and record the outcome together with the loop's new best.
 */
async function runExperiment(ctx: Ctx, loop: LoopRow, experiment: ExperimentRow): Promise<void> {
  const { db } = ctx.deps;
  const token = newId();
  const { count } = await db.experiment.updateMany({
    where: { id: experiment.id, status: "queued" },
    data: { status: "running", claimToken: token, attempt: { increment: 1 }, host: hostname() },
  });
  if (count === 0) return;
  const claimed = { where: { id: experiment.id, claimToken: token, status: "running" as const } };
  await record(ctx, [
    {
      type: "experiment",
      experimentId: experiment.id,
      index: experiment.index,
      kind: experiment.kind,
      status: "running",
      metric: null,
      description: experiment.description,
    },
  ]);

  const best = loop.bestCommit ?? loop.baseSha;
  if (ctx.cleanAt !== best) await resetTo(ctx, best);
  let prepared: Prepared;
  if (experiment.commitSha) {
    // A re-run after a crash: the change was committed (and pinned) by the attempt before.
    await resetTo(ctx, experiment.commitSha);
    const parent = experiment.parentSha ?? best;
    const stored = await db.experiment.findUnique({ where: { id: experiment.id }, select: { diffStats: true } });
    let files = stored?.diffStats as FileChange[] | null;
    if (!files) {
      // The attempt before died between its commit and storing the diff: the rules need it now.
      const diff = await diffCommits(ctx.repo, parent, experiment.commitSha);
      await db.experiment.updateMany({
        ...claimed,
        data: {
          diff: stripNul(diff.patch),
          diffStats: diff.files as unknown as object,
          additions: diff.additions,
          deletions: diff.deletions,
        },
      });
      files = diff.files;
    }
    prepared = { commit: experiment.commitSha, parent, description: experiment.description, files };
  } else {
    prepared = await prepare(ctx, loop, experiment, best, token);
    if (prepared.cancelled) return;
  }
  const seed = experiment.seed ?? loop.seed;
  if (!prepared.refused) prepared.refused = (await checkRules(ctx, loop, prepared)) ?? undefined;
  if (prepared.refused) {
    await prepared.details;
    await Promise.all([
      conclude(
        ctx,
        loop,
        experiment,
        token,
        { status: "crash", delta: null, reason: prepared.refused, value: null },
        null,
        [],
        prepared,
      ),
      resetTo(ctx, best),
    ]);
    return;
  }

  const slots = (loop.slots as string[] | null) ?? [];
  let slot: string | null = null;
  if (slots.length) {
    slot = await acquireSlot(
      db,
      slots,
      {
        projectId: loop.projectId,
        loopId: loop.id,
        experimentId: experiment.id,
        holder: ctx.deps.holder,
        leaseMs: ctx.deps.leaseMs,
      },
      ctx.signal,
    );
    if (!slot) return; // stopped while waiting
    await db.experiment.updateMany({ ...claimed, data: { slot } });
  }
  try {
    const base = {
      db,
      notifier: ctx.deps.researchNotifier,
      loop,
      worktree: ctx.worktree,
      slot,
      signal: ctx.signal,
      params: experiment.params,
      confinement: { deps: ctx.deps, repo: ctx.repo, allowHosts: ctx.egressHosts },
    };
    ctx.cleanAt = null; // the experiment may write anywhere in the worktree
    const first = await measure({ ...base, experiment, token, seed });
    if (first.cancelled) return;
    let verdict = decide(loop, experiment.kind, first.measurement, []);
    const confirms: Array<{ id: string; result: MeasureResult }> = [];
    if (experiment.kind === "candidate" && verdict.status === "keep" && loop.confirmRuns > 0) {
      let nextIndex =
        (await db.experiment.aggregate({ where: { loopId: loop.id }, _max: { index: true } }))._max.index ??
        experiment.index;
      for (const confirmSeed of confirmSeeds(loop.seed, loop.confirmRuns)) {
        nextIndex += 1;
        const description = `confirm #${experiment.index}, seed ${confirmSeed}`;
        const row = await db.experiment.create({
          data: {
            id: newId(),
            loopId: loop.id,
            index: nextIndex,
            kind: "confirm",
            status: "running",
            confirmsId: experiment.id,
            seed: confirmSeed,
            params: experiment.params ?? undefined,
            description,
            commitSha: prepared.commit,
            parentSha: prepared.parent,
            claimToken: token,
            attempt: 1,
            host: hostname(),
            slot,
          },
          select: { id: true, index: true },
        });
        await record(ctx, [
          {
            type: "experiment",
            experimentId: row.id,
            index: row.index,
            kind: "confirm",
            status: "running",
            metric: null,
            description,
            slot,
          },
        ]);
        const result = await measure({ ...base, experiment: row, token, seed: confirmSeed });
        if (result.cancelled) return;
        confirms.push({ id: row.id, result });
      }
      verdict = decide(
        loop,
        experiment.kind,
        first.measurement,
        confirms.map((c) => c.result.measurement),
      );
    }
    // The worktree goes back to the (new) best while the outcome is being recorded.
    const kept = verdict.status === "keep" && (experiment.kind === "baseline" || experiment.kind === "candidate");
    await prepared.details;
    await Promise.all([
      conclude(ctx, loop, experiment, token, verdict, first, confirms, prepared),
      resetTo(ctx, kept ? prepared.commit : best),
    ]);
  } finally {
    if (slot) await releaseSlots(db, { experimentId: experiment.id }).catch(() => undefined);
    const after = await db.researchLoop.findUnique({ where: { id: loop.id }, select: { bestCommit: true } });
    const target = after?.bestCommit ?? best;
    if (ctx.cleanAt !== target) await resetTo(ctx, target).catch(() => undefined);
  }
}

function decide(loop: LoopRow, kind: string, first: Measurement, confirms: Measurement[]): Verdict {
  if (kind === "baseline" || kind === "noise") {
    if (first.exit === "ok" && first.value !== null && Number.isFinite(first.value)) {
      return {
        status: "keep",
        delta: null,
        reason: kind === "baseline" ? "baseline" : "noise-floor measurement of the baseline",
        value: first.value,
      };
    }
    return judge({ direction: loop.direction as "min" | "max", best: null, noiseFloor: 0, first });
  }
  return judge({
    direction: loop.direction as "min" | "max",
    best: loop.bestMetric,
    noiseFloor: loop.noiseFloor ?? 0,
    first,
    confirms,
  });
}

/** Writes the change for a candidate and commits it; baseline and noise runs measure the best commit as it is. */
async function prepare(
  ctx: Ctx,
  loop: LoopRow,
  experiment: ExperimentRow,
  best: string,
  token: string,
): Promise<Prepared> {
  const { db } = ctx.deps;
  const claimed = { where: { id: experiment.id, claimToken: token, status: "running" as const } };
  if (experiment.kind !== "candidate") {
    await db.experiment.updateMany({ ...claimed, data: { commitSha: best, parentSha: best } });
    return { commit: best, parent: best, description: experiment.description, files: [] };
  }
  let description = experiment.description;
  let refused: string | undefined;
  if (loop.proposer === "agent") {
    const profileRow = loop.agentProfile;
    const adapter = profileRow ? findAgent(profileRow.adapter) : undefined;
    if (!profileRow || !adapter) {
      refused = "the loop's agent profile is gone or its adapter is unknown to this worker";
    } else {
      const profile = profileConfigSchema.parse(profileRow.config ?? {});
      const secrets = await secretsForAgent(
        { db, masterKey: { value: ctx.deps.masterKey, loopyHome: ctx.deps.loopyHome }, workerEnv: ctx.deps.secrets },
        { profile: profileSecretNames(profile), task: [] },
      ).catch((error: Error) => error);
      if (secrets instanceof Error) refused = secrets.message;
      else {
        const redactor = new Redactor(secrets);
        const stateDir = path.join(ctx.deps.loopyHome, "agent-state", `research-${loop.id}`);
        const prompt = agentPrompt(
          {
            instructions: loop.instructions,
            metric: loop.metric,
            direction: loop.direction,
            command: loop.command,
            budgetMs: loop.budgetMs,
            editableGlobs: (loop.editableGlobs as string[]) ?? [],
            protectedFiles: Object.keys((loop.protectedFiles as Record<string, string>) ?? {}),
            noiseFloor: loop.noiseFloor,
            bestMetric: loop.bestMetric,
          },
          history(await loadExperiments(db, loop.id)),
          await resultsBoard(db, loop),
        );
        const proposal = await runAgentProposer({
          adapter,
          profile,
          worktree: ctx.worktree,
          prompt,
          env: { ...secrets, LOOPY_LOOP_ID: loop.id, LOOPY_EXPERIMENT_ID: experiment.id },
          timeoutMs: ctx.deps.agentTimeoutMs ?? 10 * 60_000,
          signal: ctx.signal,
          stateDir,
          binDirs: ctx.deps.agentBinDirs,
          sandbox: await workspaceSandbox(ctx.deps, {
            repo: ctx.repo,
            writable: [stateDir],
            allowHosts: ctx.egressHosts,
          }),
        });
        if (proposal.cancelled) return { commit: best, parent: best, description, files: [], cancelled: true };
        proposal.description = redactor.text(proposal.description);
        proposal.reason = redactor.text(proposal.reason) ?? undefined;
        description = proposal.description;
        const cost = proposal.usage?.costUsd ?? 0;
        if (cost > 0) {
          await db.experiment.updateMany({ ...claimed, data: { costUsd: { increment: cost } } });
          await db.researchLoop.update({ where: { id: loop.id }, data: { costUsd: { increment: cost } } });
        }
        if (!proposal.ok) refused = `the agent failed: ${proposal.reason ?? "no reason given"}`;
      }
    }
  } else {
    await writeParamsFile(ctx.worktree, loop.paramsFile, (experiment.params ?? {}) as Params);
  }
  ctx.cleanAt = null;
  const commit = await commitExperiment(
    workspaceOf(ctx),
    best,
    `loopy research ${loop.id} #${experiment.index}: ${description || "experiment"}`.slice(0, 2000),
  );
  // The commit is on the row before anything runs, so a re-run after a crash measures this very change.
  await db.experiment.updateMany({ ...claimed, data: { commitSha: commit, parentSha: best, description } });
  const details = Promise.all([
    diffCommits(ctx.repo, best, commit),
    pinExperimentCommit(ctx.repo, experiment.id, commit),
  ]).then(async ([diff]) => {
    await db.experiment.updateMany({
      ...claimed,
      data: {
        diff: stripNul(diff.patch),
        diffStats: diff.files as unknown as object,
        additions: diff.additions,
        deletions: diff.deletions,
      },
    });
    return diff;
  });
  if (loop.proposer !== "agent") {
    // Loopy itself wrote the only change (the params file, editable by construction) into a clean
    // worktree, so the diff is stored while the experiment runs instead of before it.
    details.catch(() => undefined);
    return { commit, parent: best, description, files: null, details: details.then(() => undefined), refused };
  }
  const diff = await details;
  if (!refused && diff.files.length === 0) refused = "the agent changed nothing";
  return { commit, parent: best, description, files: diff.files, refused };
}

/** The latest kept changes of the project's other loops, for an agent proposer to read. */
async function resultsBoard(db: Db, loop: LoopRow): Promise<BoardRow[]> {
  const rows = await db.experiment.findMany({
    where: { status: "keep", kind: "candidate", loopId: { not: loop.id }, loop: { projectId: loop.projectId } },
    orderBy: { endedAt: "desc" },
    take: 20,
    select: { description: true, metricValue: true, loop: { select: { name: true, metric: true } } },
  });
  return rows
    .reverse()
    .map((r) => ({ loopName: r.loop.name, metric: r.loop.metric, value: r.metricValue, description: r.description }));
}

/** Changes outside the editable globs, or protected files whose hash changed, are refused before anything runs. */
async function checkRules(ctx: Ctx, loop: LoopRow, prepared: Prepared): Promise<string | null> {
  if (prepared.files?.length) {
    const changed = prepared.files.flatMap((f) => (f.oldPath ? [f.oldPath, f.path] : [f.path]));
    const editable = (loop.editableGlobs as string[]) ?? [];
    const outside = changed.filter((f) => !matchesAny(f, editable));
    if (outside.length)
      return `refused: changed files outside the editable globs (${editable.join(", ")}): ${outside.slice(0, 10).join(", ")}${outside.length > 10 ? ", …" : ""}`;
  }
  const changedProtected = await changedProtectedFiles(
    ctx.worktree,
    (loop.protectedFiles as Record<string, string>) ?? {},
  );
  if (changedProtected.length)
    return `refused: protected file${changedProtected.length > 1 ? "s" : ""} changed (sha256 differs): ${changedProtected.join(", ")}`;
  return null;
}

/**
 * Commits everything in the worktree as one experiment, even when nothing
 * changed (each candidate gets a commit of its own, like autoresearch's).
 */
async function commitExperiment(ws: Workspace, best: string, message: string): Promise<string> {
  return (await snapshotWorkspace(ws, { parent: best, message, allowEmpty: true })).sha;
}

/** The loop's workspace: its folder, read through the project's git folder, on `loopy/research-<id>`. */
function workspaceOf(ctx: Ctx): Workspace {
  return { repo: ctx.repo, dir: ctx.worktree, branch: ctx.branch };
}

function finiteMetrics(summary: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(summary).filter(([, v]) => Number.isFinite(v)));
}

/**
 * Records an experiment's outcome and what it means for the loop in one
 * transaction, conditional on the claim: the row, its confirm re-runs, the
 * new best (keep), the noise floor (after the last noise run). A worker that
 * lost its claim writes nothing.
 */
async function conclude(
  ctx: Ctx,
  loop: LoopRow,
  experiment: ExperimentRow,
  token: string,
  verdict: Verdict,
  result: MeasureResult | null,
  confirms: Array<{ id: string; result: MeasureResult }>,
  prepared: Prepared,
): Promise<void> {
  const { db } = ctx.deps;
  const stored = await db.$transaction(async (tx) => {
    const { count } = await tx.experiment.updateMany({
      where: { id: experiment.id, claimToken: token, status: "running" },
      data: {
        status: verdict.status,
        reason: verdict.reason,
        description: prepared.description,
        metricValue: result?.measurement.value ?? null,
        metrics: result ? finiteMetrics(result.summary) : undefined,
        memoryGb: result?.memoryGb ?? null,
        logTail: result?.logTail ?? null,
        exitCode: result?.exitCode ?? null,
        durationMs: result?.durationMs ?? null,
        ...(result ? { startedAt: result.startedAt, endedAt: result.endedAt } : { endedAt: new Date() }),
      },
    });
    if (count === 0) return null;
    const events: ResearchEventData[] = [
      {
        type: "experiment",
        experimentId: experiment.id,
        index: experiment.index,
        kind: experiment.kind,
        status: verdict.status,
        metric: result?.measurement.value ?? null,
        reason: verdict.reason,
        description: prepared.description,
        commit: prepared.commit,
      },
    ];
    for (const c of confirms) {
      const m = c.result.measurement;
      const status = m.exit === "ok" && m.value !== null ? verdict.status : m.exit === "timeout" ? "timeout" : "crash";
      await tx.experiment.updateMany({
        where: { id: c.id, claimToken: token },
        data: {
          status,
          reason: m.reason ?? `confirm re-run of #${experiment.index}`,
          metricValue: m.value,
          metrics: finiteMetrics(c.result.summary),
          memoryGb: c.result.memoryGb,
          logTail: c.result.logTail,
          exitCode: c.result.exitCode,
          durationMs: c.result.durationMs,
          startedAt: c.result.startedAt,
          endedAt: c.result.endedAt,
        },
      });
      const row = await tx.experiment.findUniqueOrThrow({ where: { id: c.id }, select: { index: true } });
      events.push({
        type: "experiment",
        experimentId: c.id,
        index: row.index,
        kind: "confirm",
        status,
        metric: m.value,
        reason: m.reason ?? null,
      });
    }
    const loopData: Record<string, unknown> = {};
    if (
      verdict.status === "keep" &&
      (experiment.kind === "baseline" || experiment.kind === "candidate") &&
      verdict.value !== null
    ) {
      Object.assign(loopData, {
        bestExperimentId: experiment.id,
        bestCommit: prepared.commit,
        bestMetric: verdict.value,
      });
      events.push({
        type: "best",
        experimentId: experiment.id,
        index: experiment.index,
        metric: verdict.value,
        commit: prepared.commit,
      });
    }
    if (experiment.kind === "baseline" || experiment.kind === "noise") {
      const measured = await tx.experiment.findMany({
        where: { loopId: loop.id, kind: { in: ["baseline", "noise"] } },
        select: { kind: true, status: true, metricValue: true },
      });
      const finished = measured.filter((m) => m.status !== "queued" && m.status !== "running");
      if (
        finished.length === loop.noiseRepeats + 1 &&
        finished.some((m) => m.kind === "baseline" && m.status === "keep")
      ) {
        const values = finished
          .filter((m) => m.status === "keep" && m.metricValue !== null)
          .map((m) => m.metricValue as number);
        const floor = noiseFloor(values);
        loopData.noiseFloor = floor;
        events.push({ type: "noise_floor", value: floor, measurements: values.length });
        // With confirm re-runs candidates are judged on means; so is the baseline.
        if (loop.confirmRuns > 0 && values.length > 0)
          loopData.bestMetric = values.reduce((a, b) => a + b, 0) / values.length;
      }
    }
    if (Object.keys(loopData).length) {
      const held = await tx.researchLoop.updateMany({
        where: { id: loop.id, holder: ctx.deps.holder },
        data: loopData,
      });
      if (held.count === 0) throw new Error("lost the loop while recording an experiment");
    }
    return appendResearchEvents(tx, null, ctx.loopId, events);
  });
  await push(ctx, stored);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { findAgent } from "@loopy/agents/registry";
import type { AgentProfileConfig } from "@loopy/agents/adapter";
import type { RunStatus } from "@loopy/db/client";
import { diffCommits, type RunDiff } from "../../shared/diff.ts";
import { resolveCheckpoints } from "./checkpoints.ts";
import { newId } from "../../shared/ids.ts";
import { profileConfigSchema } from "../../projects/profiles.ts";
import { appendRunEvents, RunEventWriter, stripNul } from "../../live/run-events.ts";
import { transitionRun, worktreePathFor } from "../runs.ts";
import { claimFleetMember, memberFleetProgress } from "../../fleets/dispatch.ts";
import {
  HANDOVER,
  LEASE_LOST,
  newHolder,
  releaseRun,
  stoppedForRecovery,
  takeOverRun,
  type RunLease,
} from "../run-recovery.ts";
import { Redactor } from "../../secrets/redact.ts";
import { createWorkspace, restoreWorkspace } from "../../projects/workspace.ts";
import {
  dropRunFiles,
  emptyDiff,
  type Ending,
  endingOf,
  type ExecuteRunDeps,
  logFailure,
  type TurnContext,
  turnTools,
} from "./context.ts";
import { countFailures, decideTurn, type TurnFacts } from "./decide-turn.ts";
import { runAgentTurn } from "./agent-turn.ts";
import { recordTurn } from "./record-turn.ts";
import { planResume, type Resume } from "./resume.ts";
import { verifyTurn } from "./verify-turn.ts";

export { agentStateDir, type ExecuteRunDeps } from "./context.ts";

/**
 * How an execution ended: `done` (the run moved on: an end state, review, or
 * nothing to do), `handed_over` (the worker is shutting down; the run is
 * released for the next worker, whose job must be queued again).
 */
export type ExecuteRunResult = "done" | "handed_over";

const DEFAULT_LEASE_MS = 30_000;

/**
 * Executes a run's pending turns, in the worker.
 *
 * First turn: claim (queued → running), worktree on loopy/run-<id> from the
 * base commit. Follow-up turn (a reviewer's request, queued by the API):
 * claim (awaiting_review | needs_attention → running) and reuse the worktree.
 *
 * Each turn: agent → commit → diff → checkpoints (verifying). All required
 * checkpoints green: awaiting_review (or succeeded for a command that changed
 * nothing). A failure goes back to the same agent session as a follow-up, up to
 * the project's attempts; then, or when the agent cannot continue, needs_attention
 * with the reason. A failing or killed command: failed. Cancel: cancelled.
 *
 * Crash safety: the claim writes this worker as the run's holder (its heartbeat
 * is renewed by the worker). A job that finds the run running or verifying is a
 * take-over: its worker died (kill -9, lost lease) or handed it over at a
 * shutdown. The new holder kills what the old one left (process groups found
 * by LOOPY_RUN_ID and worktree), resets the worktree to the last finished turn
 * and re-runs the interrupted turn, or re-runs the checkpoints when the turn
 * had finished. A run interrupted a second time by a dead worker fails with
 * the reason instead: an agent's turn is not always safe to repeat.
 */
export async function executeRun(deps: ExecuteRunDeps, runId: string, signal: AbortSignal): Promise<ExecuteRunResult> {
  const lease = deps.lease ?? { holder: newHolder(), leaseMs: DEFAULT_LEASE_MS };
  const run = await loadRun(deps, runId);
  if (!run) return "done";
  const worktree = worktreePathFor(deps.loopyHome, runId);
  const resume = await claimRun(deps, lease, run, worktree);
  if (!resume) return "done";

  const events = new RunEventWriter(deps.db, deps.notifier, runId);
  // Grows with the secrets each turn injects; everything stored or pushed for the run goes through it.
  const redactor = new Redactor();
  events.redact = (event) => redactor.deep(event);
  const execution: Execution = {
    run,
    worktree,
    resume,
    events,
    redactor,
    tail: [],
    signal,
    fleet: run.fleetId ? { fleetId: run.fleetId, memberIndex: run.memberIndex ?? 0 } : null,
  };
  let ending: Ending;
  try {
    ending = await prepareAndRunTurns(deps, execution);
  } catch (error) {
    ending = await endAfterError(deps, execution, error as Error);
  }
  return finishRun(deps, lease, execution, ending);
}

type RunRow = NonNullable<Awaited<ReturnType<typeof loadRun>>>;

/** One execution of a run: what it claimed, and what its turns share. */
interface Execution {
  run: RunRow;
  worktree: string;
  resume: Resume;
  events: RunEventWriter;
  redactor: Redactor;
  /** The last lines of the agent's output, stored on the run. */
  tail: string[];
  signal: AbortSignal;
  fleet: { fleetId: string; memberIndex: number } | null;
}

function loadRun(deps: ExecuteRunDeps, runId: string) {
  return deps.db.run.findUnique({
    where: { id: runId },
    select: {
      id: true,
      status: true,
      agent: true,
      baseSha: true,
      branch: true,
      timeoutMs: true,
      sessionId: true,
      projectId: true,
      fleetId: true,
      memberIndex: true,
      project: { select: { path: true, checkpoints: true, maxAttempts: true, egressHosts: true } },
      task: { select: { checkpoints: true, secretNames: true, agentProfile: { select: { config: true } } } },
    },
  });
}

/**
 * Claims the run for this worker: a take-over of a running or verifying run
 * (see `planResume`), else the first turn (queued → running; a fleet member
 * only while its fleet runs) or a follow-up (awaiting_review | needs_attention
 * → running). Null when there is nothing for this worker to do.
 */
async function claimRun(deps: ExecuteRunDeps, lease: RunLease, run: RunRow, worktree: string): Promise<Resume | null> {
  const { db } = deps;
  const runId = run.id;
  if (run.status === "running" || run.status === "verifying") {
    const taken = await takeOverRun(db, runId, lease);
    if (!taken.taken) return null;
    const plan = await planResume(
      deps,
      lease,
      { runId, repo: run.project.path, worktree, branch: run.branch, baseSha: run.baseSha, agent: run.agent },
      taken,
    );
    return plan === "ended" ? null : plan;
  }
  const firstTurn = run.status === "queued";
  const from: RunStatus[] = firstTurn ? ["queued"] : ["awaiting_review", "needs_attention"];
  const pending = await db.runTurn.findFirst({ where: { runId, status: "pending" }, orderBy: { index: "asc" } });
  if (!pending) return null;
  // A fleet member starts only while its fleet runs (a pause or a spent budget may have come after its dispatch).
  if (firstTurn && run.fleetId) {
    if (!(await claimFleetMember(deps, runId, run.fleetId))) return null;
  } else if (
    !(await transitionRun(deps, runId, "running", { from, keepStartedAt: !firstTurn, data: { holder: lease.holder } }))
  )
    return null;
  // The claim is ours: say so on the row (a fleet member's claim does not write it), with a fresh heartbeat.
  await db.$executeRaw`UPDATE runs SET holder = ${lease.holder}, heartbeat_at = now() WHERE id = ${runId} AND status = 'running'`;
  return { turn: pending, firstTurn, checksOnly: false };
}

/** The worktree (made, or brought back), the checkpoints, then the turns. */
async function prepareAndRunTurns(deps: ExecuteRunDeps, x: Execution): Promise<Ending> {
  const { run, worktree, resume } = x;
  const repo = run.project.path;
  const adapter = findAgent(run.agent);
  if (!adapter) throw new Error(`This worker has no "${run.agent}" agent`);
  const profile: AgentProfileConfig = profileConfigSchema.parse(run.task.agentProfile?.config ?? {});
  const { firstTurn } = resume;
  if (resume.worktreeReady) {
    // A take-over already put the worktree where the interrupted turn started.
  } else if (firstTurn || !existsSync(worktree)) {
    await mkdir(path.dirname(worktree), { recursive: true, mode: 0o700 });
    const ws = { repo, dir: worktree, branch: run.branch };
    // Else the worktree went away (a reboot that cleared it, a manual clean-up): bring it back from the branch.
    if (firstTurn) await createWorkspace(ws, run.baseSha);
    else await restoreWorkspace(ws, run.baseSha);
    await deps.db.run.update({ where: { id: run.id }, data: { worktreePath: worktree } });
    x.events.push({ type: "worktree", path: worktree, branch: run.branch, baseSha: run.baseSha });
  }
  const checkpoints = await resolveCheckpoints(repo, run.baseSha, run.project.checkpoints, run.task.checkpoints);
  return runTurns(deps, {
    runId: run.id,
    projectId: run.projectId,
    egressHosts: (run.project.egressHosts as string[] | null) ?? [],
    adapter,
    profile,
    worktree,
    repo,
    branch: run.branch,
    baseSha: run.baseSha,
    timeoutMs: run.timeoutMs,
    sessionId: run.sessionId,
    maxAttempts: run.project.maxAttempts,
    checkpoints,
    events: x.events,
    tail: x.tail,
    signal: x.signal,
    turn: resume.turn,
    checksOnly: resume.checksOnly,
    fleet: x.fleet,
    taskSecrets: run.task.secretNames,
    redactor: x.redactor,
  });
}

/** Something threw: the run fails with the message (the turn too), unless the worker is shutting down. */
async function endAfterError(deps: ExecuteRunDeps, x: Execution, error: Error): Promise<Ending> {
  const { db } = deps;
  const runId = x.run.id;
  // Best effort from here on: the run ends with `error` whatever else fails; what is lost is log lines.
  await x.events.flush().catch(logFailure(deps, runId, "storing the last events"));
  await db.run
    .update({ where: { id: runId }, data: { logTail: stripNul(x.tail.join("\n")) } })
    .catch(logFailure(deps, runId, "storing the log tail"));
  // Shutting down: the turn stays unfinished, for the next holder to re-run.
  if (stoppedForRecovery(x.signal)) return { to: "running", keepWorktree: true, handover: true };
  await db.runTurn
    .updateMany({
      where: { runId, status: "running" },
      data: { status: "done", finishedAt: new Date(), reason: x.redactor.text(error.message) },
    })
    .catch(logFailure(deps, runId, "recording the turn's failure"));
  return { to: "failed", reason: error.message, keepWorktree: false };
}

/**
 * Carries the ending out: hands the run over (shutting down), or removes the
 * worktree when it is not kept, then the final transition, last, so whoever
 * sees the end state sees a finished row.
 */
async function finishRun(deps: ExecuteRunDeps, lease: RunLease, x: Execution, end: Ending): Promise<ExecuteRunResult> {
  const { db } = deps;
  const runId = x.run.id;
  // The ending is decided: events that fail to store now cost log lines, not the outcome.
  await x.events.flush().catch(logFailure(deps, runId, "storing the last events"));
  let ending: Ending = { ...end, reason: x.redactor.text(end.reason) ?? undefined };
  if (ending.handover || (stoppedForRecovery(x.signal) && ending.to === "cancelled")) {
    // Shutting down (or another worker took over): the processes are killed; the row stays running for the next holder.
    if (x.signal.reason === LEASE_LOST) return "done";
    // The note only explains the hand-over; the next holder re-runs the turn either way.
    await appendRunEvents(db, deps.notifier, runId, [
      { type: "error", message: `Stopped mid-turn: ${HANDOVER}, which re-runs the turn` },
    ]).catch(logFailure(deps, runId, "noting the hand-over"));
    await releaseRun(db, runId, lease.holder);
    return "handed_over";
  }
  if (ending.to === "cancelled" && x.fleet) ending = await withFleetReason(deps, x.fleet.fleetId, runId, ending);
  if (!ending.keepWorktree) await dropRunFiles(deps, runId, x.run.project.path, x.worktree);
  // A database blip here must not leave the run "running": try a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      await transitionRun(deps, runId, ending.to, {
        from: ["running", "verifying"],
        reason: ending.reason,
        holder: lease.holder,
        data: { holder: null, heartbeatAt: null },
      });
      return "done";
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

/** A member stopped because its fleet ended (budget spent, fleet cancelled): say so. */
async function withFleetReason(deps: ExecuteRunDeps, fleetId: string, runId: string, ending: Ending): Promise<Ending> {
  // Without the fleet's row the run still ends cancelled, with the reason it had.
  const ended = await deps.db.fleet
    .findUnique({ where: { id: fleetId }, select: { status: true, statusReason: true } })
    .catch(logFailure(deps, runId, "reading its fleet's status"));
  if (!ended || (ended.status !== "failed" && ended.status !== "cancelled") || ending.reason?.startsWith("fleet "))
    return ending;
  const why = ended.status === "cancelled" ? "fleet cancelled" : (ended.statusReason ?? "fleet stopped");
  return { ...ending, reason: `${why}; its processes were killed` };
}

/**
 * The turn loop (ARCHITECTURE.md, "The turn loop"): the agent's turn, its
 * commit and usage, its checkpoints; after each part `decideTurn` says what
 * follows, and this carries it out: an ending, or a checkpoint-feedback turn
 * to the same session.
 */
async function runTurns(deps: ExecuteRunDeps, ctx: TurnContext): Promise<Ending> {
  const { db } = deps;
  const { runId, adapter } = ctx;
  let turn = ctx.turn;
  let checksOnly = ctx.checksOnly;
  let sessionId = ctx.sessionId;
  let failureStreak = new Map<string, number>();
  // Attempts count per cycle: the task or a reviewer's request, plus the checkpoint feedback that follows it.
  let attempts = 0;
  // What the previous turn left, to tell whether this turn changed anything.
  let previousHead =
    (
      await db.runTurn.findFirst({
        where: { runId, index: { lt: turn.index }, headSha: { not: null } },
        orderBy: { index: "desc" },
        select: { headSha: true },
      })
    )?.headSha ?? ctx.baseSha;
  const tools = turnTools(deps, ctx);

  for (;;) {
    attempts++;
    const facts: TurnFacts & { checks?: undefined } = {
      isCommand: adapter.takes === "command",
      resumable: adapter.resumable,
      turnKind: turn.kind,
    };
    let headSha: string;
    let diff: RunDiff;
    let lastMessage = "";
    if (checksOnly) {
      // Taken over after the agent's turn had finished (its commit is stored): only its checks and the decision are left.
      checksOnly = false;
      headSha = turn.headSha ?? previousHead;
      diff = headSha === ctx.baseSha ? emptyDiff() : await diffCommits(ctx.repo, ctx.baseSha, headSha);
      await db.checkpointResult.deleteMany({ where: { runId, turnIndex: turn.index } });
    } else {
      const agent = await runAgentTurn(deps, ctx, tools, turn, sessionId);
      if ("to" in agent) return agent;
      sessionId = agent.outcome.sessionId ?? sessionId;
      lastMessage = agent.lastMessage;
      const recorded = await recordTurn(deps, ctx, tools, turn, agent.outcome, previousHead, sessionId);
      if ("to" in recorded) return recorded;
      ({ headSha, diff } = recorded);
      // The fleet's spent totals include this turn now; a spent budget stops every member, this one too.
      const fleetStopped =
        ctx.fleet && deps.scheduler
          ? await memberFleetProgress({ ...deps, scheduler: deps.scheduler }, ctx.fleet.fleetId)
          : null;
      facts.agent = {
        outcome: agent.outcome,
        fleetStopped: fleetStopped || null,
        securityStop: recorded.securityStop,
        budget: ctx.profile,
        spent: recorded.spent,
      };
      const decision = decideTurn(facts);
      if (decision.kind !== "verify") return endingOf(decision);
    }

    const verified = await verifyTurn(deps, ctx, tools, turn, diff);
    if ("to" in verified) return verified;
    failureStreak = countFailures(failureStreak, verified.results);
    const changedThisTurn = headSha !== previousHead;
    previousHead = headSha;
    const decision = decideTurn({
      ...facts,
      checks: {
        cancelled: verified.cancelled,
        results: verified.results,
        diffFiles: diff.files.length,
        changedThisTurn,
        lastMessage,
        failureStreak,
        attempts,
        maxAttempts: ctx.maxAttempts,
      },
    });
    if (decision.kind === "cancelled") return endingOf(decision);
    const checksPassed = verified.results.every((r) => !r.required || r.passed);
    await db.run.update({ where: { id: runId }, data: { checksPassed: ctx.checkpoints.length ? checksPassed : null } });
    if (decision.kind === "feedback") {
      // Feed the failure back to the same session and go again.
      turn = await db.runTurn.create({
        data: { id: newId(), runId, index: turn.index + 1, kind: "checkpoint_feedback", prompt: decision.prompt },
        select: { id: true, index: true, prompt: true, kind: true },
      });
      await transitionRun(deps, runId, "running", { from: ["verifying"], keepStartedAt: true });
      continue;
    }
    // The comments this turn answered are resolved once it changed something and its checks passed.
    if (decision.kind === "await_review")
      await db.reviewComment.updateMany({ where: { runId, status: "sent" }, data: { status: "resolved" } });
    return endingOf(decision);
  }
}

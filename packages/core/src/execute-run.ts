import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { findAgent } from "@loopy/agents/registry";
import {
  profileSecretNames,
  type AgentAdapter,
  type AgentOutcome,
  type AgentProfileConfig,
} from "@loopy/agents/adapter";
import type { SandboxPolicy } from "@loopy/agents/sandbox";
import type { RunStatus } from "@loopy/db/client";
import {
  agentGitTampering,
  BranchMovedError,
  createWorkspace,
  removeWorkspace,
  resetWorkspace,
  restoreWorkspace,
  snapshotWorkspace,
} from "./workspace.ts";
import { diffCommits, type RunDiff } from "./diff.ts";
import {
  checkpointFeedback,
  resolveCheckpoints,
  runCheckpoints,
  saveCheckpointResults,
  type CheckpointOutcome,
} from "./checkpoints.ts";
import { newId } from "./ids.ts";
import { collectNotes, currentMemory, withMemory } from "./memory.ts";
import { profileConfigSchema } from "./profiles.ts";
import { appendRunEvents, RunEventWriter, stripNul } from "./run-events.ts";
import { transitionRun, worktreePathFor } from "./runs.ts";
import type { CoreDeps, RunScheduler } from "./ports.ts";
import { claimFleetMember, memberFleetProgress } from "./fleets/dispatch.ts";
import {
  HANDOVER,
  LEASE_LOST,
  MAX_INTERRUPTIONS,
  newHolder,
  releaseRun,
  stoppedForRecovery,
  takeOverRun,
  type RunLease,
} from "./run-recovery.ts";
import { killRunProcesses } from "./run-processes.ts";
import { ensureLoopWorktree } from "./research/worktree.ts";
import { secretsForAgent } from "./secrets/inject.ts";
import { Redactor } from "./secrets/redact.ts";
import { withModelGateway } from "@loopy/agents/model-gateway";
import { workspaceSandbox, type EgressSettings } from "./confinement.ts";

export interface ExecuteRunDeps extends CoreDeps {
  loopyHome: string;
  agentBinDirs?: string[];
  /** Values of the worker's environment variables a profile names as secrets (when no stored secret has the name). */
  secrets?: (names: string[]) => Record<string, string>;
  /** LOOPY_MASTER_KEY; else the key file in loopyHome decrypts stored secrets. */
  masterKey?: string;
  /** LOOPY_SANDBOX: agents and command checkpoints run inside bubblewrap ("auto": when it works here). Off when not given; apps/worker passes the setting (default auto). */
  sandbox?: SandboxPolicy["mode"];
  /** What sandboxed processes may reach through the egress proxy, and Loopy's own services they never may. */
  egress?: EgressSettings;
  /** For fleet members: lets a member's turn update its fleet (budgets stop the others). */
  scheduler?: RunScheduler;
  /** LOOPY_MAX_RUNNING, for the fleet dispatcher. */
  maxRunning?: number;
  /** This worker's identity and LOOPY_RUN_LEASE; the worker renews the heartbeat of the runs it holds. */
  lease?: RunLease;
}

/**
 * How an execution ended: `done` (the run moved on: an end state, review, or
 * nothing to do), `handed_over` (the worker is shutting down; the run is
 * released for the next worker, whose job must be queued again).
 */
export type ExecuteRunResult = "done" | "handed_over";

const LOG_TAIL_LINES = 60;
/** The same required checkpoint failing this many turns in a row needs a human. */
const SAME_FAILURE_LIMIT = 3;

type Ending = { to: RunStatus; reason?: string; keepWorktree: boolean; handover?: boolean };

const DEFAULT_LEASE_MS = 30_000;

/** Private folder for an agent's own state (HOME, sessions), kept across a run's turns. */
export function agentStateDir(loopyHome: string, runId: string): string {
  return path.join(loopyHome, "agent-state", runId);
}

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
  const { db } = deps;
  const lease = deps.lease ?? { holder: newHolder(), leaseMs: DEFAULT_LEASE_MS };
  const run = await db.run.findUnique({
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
  if (!run) return "done";
  const repo = run.project.path;
  const worktree = worktreePathFor(deps.loopyHome, runId);

  let resume: Resume | null = null;
  if (run.status === "running" || run.status === "verifying") {
    const taken = await takeOverRun(db, runId, lease);
    if (!taken.taken) return "done";
    const plan = await planResume(
      deps,
      lease,
      { runId, repo, worktree, branch: run.branch, baseSha: run.baseSha, agent: run.agent },
      taken,
    );
    if (plan === "ended") return "done";
    resume = plan;
  } else {
    const firstTurn = run.status === "queued";
    const from: RunStatus[] = firstTurn ? ["queued"] : ["awaiting_review", "needs_attention"];
    const pending = await db.runTurn.findFirst({ where: { runId, status: "pending" }, orderBy: { index: "asc" } });
    if (!pending) return "done";
    // A fleet member starts only while its fleet runs (a pause or a spent budget may have come after its dispatch).
    if (firstTurn && run.fleetId) {
      if (!(await claimFleetMember(deps, runId, run.fleetId))) return "done";
    } else if (
      !(await transitionRun(deps, runId, "running", {
        from,
        keepStartedAt: !firstTurn,
        data: { holder: lease.holder },
      }))
    )
      return "done";
    // The claim is ours: say so on the row (a fleet member's claim does not write it), with a fresh heartbeat.
    await db.$executeRaw`UPDATE runs SET holder = ${lease.holder}, heartbeat_at = now() WHERE id = ${runId} AND status = 'running'`;
    resume = { turn: pending, firstTurn, checksOnly: false };
  }
  const fleet = run.fleetId ? { fleetId: run.fleetId, memberIndex: run.memberIndex ?? 0 } : null;

  const events = new RunEventWriter(db, deps.notifier, runId);
  // Grows with the secrets each turn injects; everything stored or pushed for the run goes through it.
  const redactor = new Redactor();
  events.redact = (event) => redactor.deep(event);
  const tail: string[] = [];
  let ending: Ending;
  try {
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
      await db.run.update({ where: { id: runId }, data: { worktreePath: worktree } });
      events.push({ type: "worktree", path: worktree, branch: run.branch, baseSha: run.baseSha });
    }
    const checkpoints = await resolveCheckpoints(repo, run.baseSha, run.project.checkpoints, run.task.checkpoints);
    ending = await runTurns(deps, {
      runId,
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
      events,
      tail,
      signal,
      turn: resume.turn,
      checksOnly: resume.checksOnly,
      fleet,
      taskSecrets: run.task.secretNames,
      redactor,
    });
  } catch (error) {
    await events.flush().catch(() => undefined);
    await db.run.update({ where: { id: runId }, data: { logTail: stripNul(tail.join("\n")) } }).catch(() => undefined);
    if (stoppedForRecovery(signal)) {
      // Shutting down: the turn stays unfinished, for the next holder to re-run.
      ending = { to: "running", keepWorktree: true, handover: true };
    } else {
      await db.runTurn
        .updateMany({
          where: { runId, status: "running" },
          data: { status: "done", finishedAt: new Date(), reason: redactor.text((error as Error).message) },
        })
        .catch(() => undefined);
      ending = { to: "failed", reason: (error as Error).message, keepWorktree: false };
    }
  }
  await events.flush().catch(() => undefined);
  ending = { ...ending, reason: redactor.text(ending.reason) ?? undefined };
  if (ending.handover || (stoppedForRecovery(signal) && ending.to === "cancelled")) {
    // Shutting down (or another worker took over): the processes are killed; the row stays running for the next holder.
    if (signal.reason === LEASE_LOST) return "done";
    await appendRunEvents(db, deps.notifier, runId, [
      { type: "error", message: `Stopped mid-turn: ${HANDOVER}, which re-runs the turn` },
    ]).catch(() => undefined);
    await releaseRun(db, runId, lease.holder);
    return "handed_over";
  }
  if (ending.to === "cancelled" && fleet) {
    // Stopped because its fleet ended (budget spent, fleet cancelled): say so.
    const ended = await db.fleet
      .findUnique({ where: { id: fleet.fleetId }, select: { status: true, statusReason: true } })
      .catch(() => null);
    if (ended && (ended.status === "failed" || ended.status === "cancelled") && !ending.reason?.startsWith("fleet ")) {
      ending = {
        ...ending,
        reason: `${ended.status === "cancelled" ? "fleet cancelled" : (ended.statusReason ?? "fleet stopped")}; its processes were killed`,
      };
    }
  }
  if (!ending.keepWorktree) {
    await removeWorkspace(repo, worktree).catch(() => undefined);
    await db.run.update({ where: { id: runId }, data: { worktreePath: null } }).catch(() => undefined);
    await rm(agentStateDir(deps.loopyHome, runId), { recursive: true, force: true }).catch(() => undefined);
  }
  // The final transition comes last, so whoever sees the end state sees a finished row.
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

interface Resume {
  turn: TurnContext["turn"];
  firstTurn: boolean;
  checksOnly: boolean;
  /** A take-over already reset the worktree to where the turn starts. */
  worktreeReady?: boolean;
}

/**
 * After a take-over: kills what the previous holder left running, then either
 * ends the run (a cancel that came while nobody held it; a second crash) or
 * says where to pick up: the first unfinished turn, re-run from the commit the
 * turn before it left (the worktree is reset to it, the killed attempt's files
 * and commits dropped), or the last turn's checks when the agent had finished.
 */
async function planResume(
  deps: ExecuteRunDeps,
  lease: RunLease,
  run: { runId: string; repo: string; worktree: string; branch: string; baseSha: string; agent: string },
  taken: { crashed: boolean; interruptions: number },
): Promise<Resume | "ended"> {
  const { db } = deps;
  const { runId, repo, worktree } = run;
  // First, so nothing the previous holder started writes to the worktree any more.
  const killed = await killRunProcesses(deps.loopyHome, [runId]);
  const leftovers = killed.length ? `; killed ${killed.length} process(es) it left` : "";
  const end = async (to: RunStatus, reason: string, keepWorktree = false): Promise<"ended"> => {
    if (!keepWorktree) {
      await removeWorkspace(repo, worktree).catch(() => undefined);
      await db.run.update({ where: { id: runId }, data: { worktreePath: null } }).catch(() => undefined);
      await rm(agentStateDir(deps.loopyHome, runId), { recursive: true, force: true }).catch(() => undefined);
    }
    await transitionRun(deps, runId, to, {
      from: ["running", "verifying"],
      reason,
      holder: lease.holder,
      data: { holder: null, heartbeatAt: null },
    });
    return "ended";
  };
  // A cancel that arrived while nobody held the run (nobody heard it): honour it now.
  const lastStatus = await db.runEvent.findFirst({
    where: { runId, type: "status" },
    orderBy: { id: "desc" },
    select: { id: true },
  });
  const cancel = await db.runEvent.findFirst({
    where: { runId, type: "cancel_requested", ...(lastStatus ? { id: { gt: lastStatus.id } } : {}) },
    select: { id: true },
  });
  if (cancel) return end("cancelled", `Cancelled while no worker held it${leftovers}`);
  if (taken.crashed && taken.interruptions > MAX_INTERRUPTIONS) {
    return end(
      "failed",
      `Worker died mid-run (${taken.interruptions} times); the turn is not re-run again${leftovers}. Launch the run again to retry`,
    );
  }
  const why = taken.crashed
    ? "Worker died mid-run (killed, or stopped renewing its lease)"
    : "Handed over by a worker that shut down";
  const turns = await db.runTurn.findMany({
    where: { runId },
    orderBy: { index: "asc" },
    select: { id: true, index: true, prompt: true, kind: true, status: true, headSha: true, reason: true },
  });
  const open = turns.find((t) => t.status !== "done");
  const last = turns.filter((t) => t.status === "done").at(-1);
  const startOf = (index: number) => turns.filter((t) => t.index < index && t.headSha).at(-1)?.headSha ?? run.baseSha;
  const resetTo = async (sha: string) => {
    await ensureLoopWorktree(repo, worktree, run.branch, run.baseSha);
    await resetWorkspace({ repo, dir: worktree, branch: run.branch }, sha);
  };
  if (open) {
    await resetTo(startOf(open.index));
    await db.runTurn.update({ where: { id: open.id }, data: { status: "pending", startedAt: null } });
    await db.checkpointResult.deleteMany({ where: { runId, turnIndex: open.index } });
    await transitionRun(deps, runId, "running", { from: ["verifying"], keepStartedAt: true, holder: lease.holder });
    await appendRunEvents(db, deps.notifier, runId, [
      { type: "error", message: `${why}; re-running turn ${open.index + 1} from its start${leftovers}` },
    ]);
    return { turn: open, firstTurn: false, checksOnly: false, worktreeReady: true };
  }
  if (!last?.headSha)
    return end("failed", `${why} before its first turn was recorded${leftovers}. Launch the run again to retry`);
  if (last.reason) {
    // The turn itself had failed (or was stopped): what the worker was about to record.
    const isCommand = findAgent(run.agent)?.takes === "command";
    return isCommand ? end("failed", last.reason) : end("needs_attention", last.reason, true);
  }
  await resetTo(last.headSha);
  await appendRunEvents(db, deps.notifier, runId, [
    {
      type: "error",
      message: `${why} after turn ${last.index + 1} finished; running its checkpoints again${leftovers}`,
    },
  ]);
  return { turn: last, firstTurn: false, checksOnly: true, worktreeReady: true };
}

interface TurnContext {
  runId: string;
  projectId: string;
  adapter: AgentAdapter;
  profile: AgentProfileConfig;
  worktree: string;
  repo: string;
  /** The run's branch, moved only by Loopy. */
  branch: string;
  /** Hosts the project lets its sandboxed processes reach. */
  egressHosts: string[];
  baseSha: string;
  timeoutMs: number;
  sessionId: string | null;
  maxAttempts: number;
  checkpoints: Awaited<ReturnType<typeof resolveCheckpoints>>;
  events: RunEventWriter;
  tail: string[];
  signal: AbortSignal;
  turn: { id: string; index: number; prompt: string; kind: string; headSha?: string | null };
  /** A take-over after the turn finished: run its checkpoints and decide, without the agent. */
  checksOnly: boolean;
  fleet: { fleetId: string; memberIndex: number } | null;
  /** Stored secrets the task names, besides the profile's. */
  taskSecrets: string[];
  redactor: Redactor;
}

async function runTurns(deps: ExecuteRunDeps, ctx: TurnContext): Promise<Ending> {
  const { db } = deps;
  const { runId, adapter, events } = ctx;
  let turn = ctx.turn;
  let checksOnly = ctx.checksOnly;
  let sessionId = ctx.sessionId;
  const failureStreak = new Map<string, number>();
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
  const isCommand = adapter.takes === "command";
  const { redactor } = ctx;
  const append = (list: Parameters<typeof appendRunEvents>[3]) =>
    appendRunEvents(db, deps.notifier, runId, redactor.deep(list));
  // LOOPY_HOME is hidden from the sandbox (master key, CLI token, other runs); the agent's state folder is its HOME.
  // Its own network namespace; what the egress proxy refuses is said in the run's log.
  const onDenied = (target: string, reason: string) =>
    events.push({
      type: "error",
      message: `network: ${reason.startsWith("refused") ? reason : `refused ${target}: ${reason}`}`,
    });
  const sandbox = (writable: string[]): Promise<SandboxPolicy> =>
    workspaceSandbox(deps, { repo: ctx.repo, writable, onDenied, allowHosts: ctx.egressHosts });

  for (;;) {
    attempts++;
    let headSha: string;
    let diff: RunDiff;
    let lastMessage = "";
    /** Set when the turn did something a human must look at before anything else runs (git tampering, a secret in a file). */
    let securityStop: string | null = null;
    if (checksOnly) {
      // Taken over after the agent's turn had finished (its commit is stored): only its checks and the decision are left.
      checksOnly = false;
      headSha = turn.headSha ?? previousHead;
      diff = headSha === ctx.baseSha ? emptyDiff() : await diffCommits(ctx.repo, ctx.baseSha, headSha);
      await db.checkpointResult.deleteMany({ where: { runId, turnIndex: turn.index } });
    } else {
      await db.runTurn.update({ where: { id: turn.id }, data: { status: "running", startedAt: new Date() } });
      await db.run.update({ where: { id: runId }, data: { turns: turn.index + 1 } });
      events.push({ type: "turn", index: turn.index, kind: turn.kind as "initial" });

      const env: Record<string, string> = {
        LOOPY_RUN_ID: runId,
        LOOPY_TURN: String(turn.index),
        ...fleetEnv(ctx.fleet),
      };
      // Resolved at every turn start (a secret may have been changed since), for the agent's process only.
      let secrets: Record<string, string>;
      try {
        secrets = await secretsForAgent(
          { db, masterKey: { value: deps.masterKey, loopyHome: deps.loopyHome }, workerEnv: deps.secrets },
          { profile: profileSecretNames(ctx.profile), task: ctx.taskSecrets },
        );
      } catch (error) {
        return { to: "failed", reason: (error as Error).message, keepWorktree: false };
      }
      redactor.add(secrets);
      Object.assign(env, secrets);
      // An LLM agent's first turn starts with the project's memory.
      const instruction =
        !isCommand && turn.kind === "initial"
          ? withMemory(turn.prompt, (await currentMemory(db, ctx.projectId))?.content)
          : turn.prompt;
      const outcome: AgentOutcome = await ctx.adapter.run(
        await withModelGateway(ctx.adapter, {
          cwd: ctx.worktree,
          instruction,
          env,
          timeoutMs: ctx.timeoutMs,
          signal: ctx.signal,
          sessionId,
          profile: ctx.profile,
          stateDir: agentStateDir(deps.loopyHome, runId),
          binDirs: deps.agentBinDirs,
          sandbox: await sandbox([agentStateDir(deps.loopyHome, runId)]),
        }),
        (raw) => {
          const event = redactor.deep(raw);
          if (event.type === "message") lastMessage = event.text;
          if (event.type === "log") {
            ctx.tail.push(event.line);
            if (ctx.tail.length > LOG_TAIL_LINES) ctx.tail.shift();
          }
          events.push(event);
        },
      );
      await events.flush();
      // Shutting down (or taken over): the turn did not finish; whoever takes the run re-runs it from its start.
      if (stoppedForRecovery(ctx.signal)) return { to: "running", keepWorktree: true, handover: true };
      sessionId = outcome.sessionId ?? sessionId;
      // Notes are a bonus: failing to store them must never cost the turn its work.
      const noted = await collectNotes(db, ctx.projectId, runId, ctx.worktree, (text) => redactor.text(text)).catch(
        (error: Error) => `could not store the agent's notes: ${error.message}`,
      );
      if (noted) {
        await append([
          noted === true
            ? { type: "message", text: "Added the agent's notes to the project memory" }
            : { type: "error", message: noted },
        ]);
      }

      // Loopy commits the files on its own branch; nothing the agent did to git is trusted (see workspace.ts).
      const ws = { repo: ctx.repo, dir: ctx.worktree, branch: ctx.branch };
      const tampering = agentGitTampering(ws);
      const secretFiles = new Map<string, string[]>();
      try {
        const snapshot = await snapshotWorkspace(ws, {
          parent: previousHead,
          message: `loopy: run ${runId}, turn ${turn.index + 1}\n\n${redactor.text(turn.prompt.slice(0, 2000))}`,
          rewrite: redactor.empty ? undefined : (file, content) => redactFile(redactor, file, content, secretFiles),
        });
        headSha = snapshot.sha;
      } catch (error) {
        if (!(error instanceof BranchMovedError)) throw error;
        await append([{ type: "error", message: error.message }]);
        return { to: "needs_attention", reason: error.message, keepWorktree: true };
      }
      if (tampering)
        securityStop = `${tampering}; Loopy committed the files on ${ctx.branch} as usual, review what it did`;
      if (secretFiles.size > 0) {
        const list = [...secretFiles].map(([file, names]) => `${file} (${names.join(", ")})`).join(", ");
        securityStop = `${securityStop ? `${securityStop}; ` : ""}a secret's value was written to ${list}: committed with the value redacted, check the change before approving`;
      }
      // Nothing committed since the base (a turn that changed nothing, a cancel): an empty diff without asking git.
      diff = headSha === ctx.baseSha ? emptyDiff() : await diffCommits(ctx.repo, ctx.baseSha, headSha);
      await append([
        {
          type: "diff",
          files: diff.files.length,
          additions: diff.additions,
          deletions: diff.deletions,
          headSha: headSha === ctx.baseSha ? null : headSha,
        },
      ]);
      const usage = outcome.usage ?? { inputTokens: 0, outputTokens: 0 };
      await db.runTurn.update({
        where: { id: turn.id },
        data: {
          status: "done",
          finishedAt: new Date(),
          headSha,
          exitCode: outcome.exitCode,
          reason: redactor.text(outcome.reason),
          inputTokens: usage.inputTokens,
          outputTokens: usage.outputTokens,
          costUsd: usage.costUsd ?? 0,
        },
      });
      const totals = await db.run.update({
        where: { id: runId },
        data: {
          headSha,
          sessionId,
          exitCode: outcome.exitCode,
          ...storedDiff(diff, redactor),
          logTail: stripNul(ctx.tail.join("\n")),
          inputTokens: { increment: usage.inputTokens },
          outputTokens: { increment: usage.outputTokens },
          costUsd: { increment: usage.costUsd ?? 0 },
        },
        select: { inputTokens: true, outputTokens: true, costUsd: true, startedAt: true },
      });

      if (ctx.fleet && deps.scheduler) {
        // The fleet's spent totals include this turn now; a spent budget stops every member, this one too.
        const stopped = await memberFleetProgress({ ...deps, scheduler: deps.scheduler }, ctx.fleet.fleetId);
        if (stopped) return { to: "cancelled", reason: stopped, keepWorktree: false };
      }
      if (outcome.cancelled) return { to: "cancelled", reason: outcome.reason, keepWorktree: false };
      if (!outcome.ok) {
        // A command that fails is a failed run; an agent that fails may be helped by a human.
        return isCommand
          ? { to: "failed", reason: outcome.reason, keepWorktree: false }
          : { to: "needs_attention", reason: outcome.reason, keepWorktree: true };
      }
      if (outcome.needsAttention) return { to: "needs_attention", reason: outcome.needsAttention, keepWorktree: true };
      if (securityStop) return { to: "needs_attention", reason: securityStop, keepWorktree: true };
      const over = overBudget(ctx.profile, totals);
      if (over) return { to: "needs_attention", reason: over, keepWorktree: true };
    }

    // Checkpoints.
    let results: CheckpointOutcome[] = [];
    if (ctx.checkpoints.length > 0) {
      await transitionRun(deps, runId, "verifying", { from: ["running"], keepStartedAt: true });
      results = (
        await runCheckpoints(
          ctx.checkpoints,
          ctx.worktree,
          diff.files,
          { LOOPY_RUN_ID: runId, ...fleetEnv(ctx.fleet) },
          ctx.signal,
          await sandbox([]),
        )
      ).map((r) => ({
        ...r,
        output: redactor.text(r.output),
      }));
      // Handed over mid-check: the next holder runs this turn's checks again.
      if (stoppedForRecovery(ctx.signal)) return { to: "verifying", keepWorktree: true, handover: true };
      await saveCheckpointResults(db, runId, turn.index, results);
      await append(
        results.map((r) => ({
          type: "checkpoint" as const,
          name: r.name,
          passed: r.passed,
          required: r.required,
          durationMs: r.durationMs,
          turn: turn.index,
        })),
      );
      if (ctx.signal.aborted)
        return {
          to: "cancelled",
          reason: typeof ctx.signal.reason === "string" ? ctx.signal.reason : "cancelled by a user",
          keepWorktree: false,
        };
    }
    const failed = results.filter((r) => r.required && !r.passed);
    await db.run.update({
      where: { id: runId },
      data: { checksPassed: ctx.checkpoints.length ? failed.length === 0 : null },
    });

    const changedThisTurn = headSha !== previousHead;
    previousHead = headSha;
    if (failed.length === 0) {
      if (isCommand && diff.files.length === 0) return { to: "succeeded", keepWorktree: false };
      if (!isCommand && !changedThisTurn) {
        // A turn that changed nothing: the agent asks something (request changes answers it), or did nothing.
        const question = lastMessage.trim();
        if (question.endsWith("?"))
          return {
            to: "needs_attention",
            reason: `The agent asks: ${question.length > 300 ? `…${question.slice(-300)}` : question}`,
            keepWorktree: true,
          };
        return {
          to: "needs_attention",
          reason:
            turn.kind === "initial"
              ? "The agent finished without changing anything (empty diff)"
              : "The agent's turn changed nothing",
          keepWorktree: true,
        };
      }
      // The comments this turn answered are resolved once it changed something and its checks passed.
      await db.reviewComment.updateMany({ where: { runId, status: "sent" }, data: { status: "resolved" } });
      return { to: "awaiting_review", keepWorktree: true };
    }

    const names = failed.map((r) => r.name).join(", ");
    const pathRule = failed.find((r) => r.kind === "forbidden_paths" || r.kind === "protected_paths");
    if (pathRule) return { to: "needs_attention", reason: `${pathRule.output.split("\n")[0]}`, keepWorktree: true };
    for (const r of failed) failureStreak.set(r.name, (failureStreak.get(r.name) ?? 0) + 1);
    for (const key of [...failureStreak.keys()]) if (!failed.some((r) => r.name === key)) failureStreak.delete(key);
    const stuck = [...failureStreak.entries()].find(([, n]) => n >= SAME_FAILURE_LIMIT);
    if (stuck)
      return {
        to: "needs_attention",
        reason: `Checkpoint "${stuck[0]}" failed ${stuck[1]} times in a row`,
        keepWorktree: true,
      };
    if (!adapter.resumable)
      return {
        to: "needs_attention",
        reason: `Checkpoint${failed.length > 1 ? "s" : ""} ${names} failed`,
        keepWorktree: true,
      };
    if (attempts >= ctx.maxAttempts) {
      return {
        to: "needs_attention",
        reason: `Checkpoint${failed.length > 1 ? "s" : ""} ${names} still failing after ${attempts} attempts`,
        keepWorktree: true,
      };
    }
    // Feed the failure back to the same session and go again.
    turn = await db.runTurn.create({
      data: {
        id: newId(),
        runId,
        index: turn.index + 1,
        kind: "checkpoint_feedback",
        prompt: checkpointFeedback(failed),
      },
      select: { id: true, index: true, prompt: true, kind: true },
    });
    await transitionRun(deps, runId, "running", { from: ["verifying"], keepStartedAt: true });
  }
}

/** What a fleet member's processes (agent and checkpoints) get, so one command can vary per member. */
function fleetEnv(fleet: { fleetId: string; memberIndex: number } | null): Record<string, string> {
  return fleet ? { LOOPY_FLEET_ID: fleet.fleetId, LOOPY_MEMBER_INDEX: String(fleet.memberIndex) } : {};
}

/** The diff as stored on the run; a secret value the agent wrote into a file shows as [redacted:NAME] (git still has it). */
const emptyDiff = (): RunDiff => ({ files: [], additions: 0, deletions: 0, patch: "", truncated: false });

function storedDiff(diff: RunDiff, redactor: Redactor) {
  return {
    diff: stripNul(redactor.text(diff.patch)),
    diffStats: redactor.deep(diff.files) as unknown as object,
    additions: diff.additions,
    deletions: diff.deletions,
  };
}

function overBudget(
  profile: AgentProfileConfig,
  totals: { inputTokens: number; outputTokens: number; costUsd: number; startedAt: Date | null },
): string | null {
  if (profile.budgetUsd !== undefined && totals.costUsd > profile.budgetUsd) {
    return `Over budget: spent $${totals.costUsd.toFixed(4)} of $${profile.budgetUsd}`;
  }
  const tokens = totals.inputTokens + totals.outputTokens;
  if (profile.budgetTokens !== undefined && tokens > profile.budgetTokens)
    return `Over budget: used ${tokens} of ${profile.budgetTokens} tokens`;
  return null;
}

/**
 * A file's content with the values of the run's secrets redacted, or null to
 * keep it (binary files and files with no secret). Notes which secrets each
 * file held.
 */
function redactFile(redactor: Redactor, file: string, content: Buffer, found: Map<string, string[]>): Buffer | null {
  if (content.includes(0)) return null;
  const text = content.toString("utf8");
  const names = redactor.hits(text);
  if (names.length === 0) return null;
  found.set(file, names);
  return Buffer.from(redactor.text(text), "utf8");
}

import { claimOrWait, letGoPaused, releaseLoopSlots, startHeartbeat } from "./engine-claim.ts";
import {
  type Ctx,
  loadExperiments,
  loadLoop,
  logOf,
  newCtx,
  type ResearchEngineDeps,
  record,
  resetTo,
  SHUTDOWN,
} from "./engine-context.ts";
import { type Ending, loopGate, pickExperiment } from "./engine-decisions.ts";
import { createExperiment } from "./engine-propose.ts";
import { recoverInterrupted } from "./engine-recover.ts";
import { runExperiment } from "./engine-run.ts";
import { settle } from "./engine-settle.ts";
import { ensureLoopWorktree } from "./worktree.ts";

/**
 * The research engine's entry points (`@loopy/core/research/engine`). The steps
 * live in engine-*.ts: claim and heartbeat (engine-claim), proposals
 * (engine-propose), commit and guard (engine-commit), running one experiment
 * (engine-run), recording its outcome (engine-record), recovery of an
 * interrupted experiment (engine-recover), and the end of a loop
 * (engine-settle); the decisions are pure functions in engine-decisions.
 */
export { MAX_ATTEMPTS, type ResearchEngineDeps, SHUTDOWN } from "./engine-context.ts";
export { cleanUpEndedLoop } from "./engine-settle.ts";

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
  const claim = await claimOrWait(deps, loopId, signal);
  if (!claim) return;
  const first = await loadLoop(db, loopId);
  if (!first) return;
  const ctxController = new AbortController();
  const onAbort = () => ctxController.abort(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  const ctx = newCtx(
    deps,
    loopId,
    {
      repo: first.project.path,
      branch: first.branch,
      egressHosts: (first.project.egressHosts as string[] | null) ?? [],
    },
    ctxController.signal,
  );
  await record(ctx, [
    {
      type: "loop",
      status: "running",
      ...(claim === "resumed" ? { reason: "resumed by another worker after its holder stopped" } : {}),
    },
  ]);
  await deps.researchNotifier.loopChanged(loopId, "running");

  const heartbeat = startHeartbeat(deps, loopId, ctxController);
  let failure: Error | undefined;
  let end: { ending: Ending | null; paused: boolean } = { ending: null, paused: false };
  try {
    await recoverInterrupted(ctx);
    await ensureLoopWorktree(ctx.repo, ctx.worktree, first.branch, first.baseSha);
    await db.researchLoop.update({ where: { id: loopId }, data: { worktreePath: ctx.worktree } });
    await resetTo(ctx, first.bestCommit ?? first.baseSha);
    end = await runLoop(ctx);
  } catch (error) {
    failure = error as Error;
    logOf(deps)(`research loop ${loopId} failed: ${failure.stack ?? failure.message}`);
  } finally {
    clearInterval(heartbeat);
    signal.removeEventListener("abort", onAbort);
  }
  if (end.paused && !failure) {
    await releaseLoopSlots(deps, loopId);
    return;
  }
  const ending = end.ending ?? (failure ? { to: "failed" as const, reason: failure.message } : null);
  await settle(ctx, ending, signal.reason === SHUTDOWN);
}

/**
 * The main loop: before each experiment the loop's row says whether to go on
 * (loopGate), then the next experiment is run (a queued one, or a new one as
 * nextStep says). Ends when the loop is paused (let go), stopped, or done.
 */
async function runLoop(ctx: Ctx): Promise<{ ending: Ending | null; paused: boolean }> {
  const { db, holder } = ctx.deps;
  for (;;) {
    if (ctx.signal.aborted) return { ending: null, paused: false };
    const loop = await loadLoop(db, ctx.loopId);
    const gate = loopGate(loop, holder, Date.now());
    if (gate.kind === "pause") {
      // Conditional on the row: a resume that came first set it running again, and the loop goes on.
      if (await letGoPaused(ctx)) return { ending: null, paused: true };
      continue;
    }
    if (gate.kind === "stop" || !loop) return { ending: null, paused: false };
    if (gate.kind === "end") return { ending: gate.ending, paused: false };
    const experiments = await loadExperiments(db, ctx.loopId);
    const choice = pickExperiment(loop, experiments);
    if (choice.kind === "end") return { ending: choice.ending, paused: false };
    const experiment =
      choice.kind === "run"
        ? choice.experiment
        : await createExperiment(ctx, loop, experiments, choice.step, choice.seed);
    await runExperiment(ctx, loop, experiment);
  }
}

import { type CheckpointOutcome, runCheckpoints, saveCheckpointResults } from "./checkpoints.ts";
import type { RunDiff } from "../../shared/diff.ts";
import { stoppedForRecovery } from "../run-recovery.ts";
import { transitionRun } from "../runs.ts";
import {
  type Ending,
  type ExecuteRunDeps,
  fleetEnv,
  type TurnContext,
  type TurnRow,
  type TurnTools,
} from "./context.ts";

/** What the checkpoints after a turn left, for the decision. */
export interface VerifiedTurn {
  results: CheckpointOutcome[];
  /** Why the run was cancelled while they ran (their results are stored all the same), or null. */
  cancelled: string | null;
}

/**
 * Step 3: `verifying`, the run's checkpoints in the worktree, their results
 * (redacted) stored for the turn and told in the log. A run without
 * checkpoints has none to run. Ends the run instead when the worker is
 * shutting down or was taken over mid-check (handed over: the next holder
 * runs this turn's checks again).
 */
export async function verifyTurn(
  deps: ExecuteRunDeps,
  ctx: TurnContext,
  tools: TurnTools,
  turn: TurnRow,
  diff: RunDiff,
): Promise<VerifiedTurn | Ending> {
  const { runId, redactor, signal } = ctx;
  if (ctx.checkpoints.length === 0) return { results: [], cancelled: null };
  await transitionRun(deps, runId, "verifying", { from: ["running"], keepStartedAt: true });
  const results = (
    await runCheckpoints(
      ctx.checkpoints,
      ctx.worktree,
      diff.files,
      { LOOPY_RUN_ID: runId, ...fleetEnv(ctx.fleet) },
      signal,
      await tools.sandbox([]),
    )
  ).map((r) => ({ ...r, output: redactor.text(r.output) }));
  if (stoppedForRecovery(signal)) return { to: "verifying", keepWorktree: true, handover: true };
  await saveCheckpointResults(deps.db, runId, turn.index, results);
  await tools.append(
    results.map((r) => ({
      type: "checkpoint" as const,
      name: r.name,
      passed: r.passed,
      required: r.required,
      durationMs: r.durationMs,
      turn: turn.index,
    })),
  );
  const cancelled = signal.aborted ? (typeof signal.reason === "string" ? signal.reason : "cancelled by a user") : null;
  return { results, cancelled };
}

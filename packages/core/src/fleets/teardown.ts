import { formatDuration } from "@loopy/config/duration";
import type { FleetStatus, RunStatus } from "@loopy/db/client";
import type { CoreDeps } from "../shared/ports.ts";
import { appendRunEvents } from "../live/run-events.ts";
import { transitionRun, worktreePathFor } from "../runs/runs.ts";
import { removeWorkspace } from "../projects/workspace.ts";
import { DEPENDENCY_DEAD } from "./dag.ts";
import { fleetLog, type FleetRuntimeDeps } from "./model.ts";

/**
 * How a run fleet ends: its spend against its budget, a stop (failed or
 * cancelled) that stops every member, completion once every member settled,
 * and subtasks that can never start because what they depend on ended badly.
 */

/** Member states in which nothing more happens without a human: the fleet counts them as finished. */
export const SETTLED_STATUSES: readonly RunStatus[] = [
  "awaiting_review",
  "needs_attention",
  "succeeded",
  "failed",
  "cancelled",
  "merged",
  "rejected",
];
export const UNSETTLED: RunStatus[] = ["queued", "running", "verifying"];
export const OPEN_FLEET: FleetStatus[] = ["running", "paused"];

async function fleetChanged(deps: CoreDeps, fleetId: string, status: string): Promise<void> {
  await deps.notifier.fleetChanged?.(fleetId, status);
}

type FleetBudgetRow = {
  budgetUsd: number | null;
  budgetTokens: number | null;
  budgetMs: number | null;
  spentUsd: number;
  spentTokens: number;
  createdAt: Date;
};

/** What of the fleet's budget is spent, in words; null while there is budget left. */
export function budgetSpent(fleet: FleetBudgetRow, now = new Date()): string | null {
  if (fleet.budgetUsd !== null && fleet.spentUsd >= fleet.budgetUsd)
    return `$${fleet.spentUsd.toFixed(4)} of $${fleet.budgetUsd}`;
  if (fleet.budgetTokens !== null && fleet.spentTokens >= fleet.budgetTokens)
    return `${fleet.spentTokens} of ${fleet.budgetTokens} tokens`;
  const elapsed = now.getTime() - fleet.createdAt.getTime();
  if (fleet.budgetMs !== null && elapsed >= fleet.budgetMs)
    return `wall clock ${formatDuration(elapsed)} of ${formatDuration(fleet.budgetMs)}`;
  return null;
}

/** Sums the members' cost and tokens onto the fleet row; returns the row (null when the fleet is gone). */
export async function refreshSpent(deps: CoreDeps, fleetId: string) {
  const sums = await deps.db.run.aggregate({
    where: { fleetId },
    _sum: { costUsd: true, inputTokens: true, outputTokens: true },
  });
  const spentUsd = sums._sum.costUsd ?? 0;
  const spentTokens = (sums._sum.inputTokens ?? 0) + (sums._sum.outputTokens ?? 0);
  const updated = await deps.db.fleet.updateMany({ where: { id: fleetId }, data: { spentUsd, spentTokens } });
  if (updated.count === 0) return null;
  return deps.db.fleet.findUnique({
    where: { id: fleetId },
    select: {
      status: true,
      statusReason: true,
      budgetUsd: true,
      budgetTokens: true,
      budgetMs: true,
      spentUsd: true,
      spentTokens: true,
      createdAt: true,
    },
  });
}

/**
 * Ends a fleet (running or paused → `to`) with a reason, then stops its members:
 * queued ones are cancelled, running ones are asked to stop (their worker kills
 * the process group, removes the worktree and records the fleet's reason), and
 * with `includeReviewable` members waiting for a human are cancelled and their
 * worktrees removed too. Returns false when the fleet was not in a `from` state.
 */
export async function stopFleet(
  deps: FleetRuntimeDeps,
  fleetId: string,
  options: {
    to: "failed" | "cancelled";
    reason: string;
    from?: FleetStatus[];
    memberReason?: string;
    includeReviewable?: boolean;
  },
): Promise<boolean> {
  const { count } = await deps.db.fleet.updateMany({
    where: { id: fleetId, status: { in: options.from ?? OPEN_FLEET } },
    data: { status: options.to, statusReason: options.reason, finishedAt: new Date() },
  });
  if (count === 0) return false;
  await fleetChanged(deps, fleetId, options.to);
  const reason = options.memberReason ?? options.reason;
  const waiting: RunStatus[] = options.includeReviewable ? ["awaiting_review", "needs_attention"] : [];
  const members = await deps.db.run.findMany({
    where: { fleetId, status: { in: [...UNSETTLED, ...waiting] } },
    orderBy: { memberIndex: "asc" },
    select: { id: true, status: true, project: { select: { path: true } } },
  });
  for (const member of members) await stopMember(deps, member, reason);
  return true;
}

async function stopMember(
  deps: FleetRuntimeDeps,
  member: { id: string; status: RunStatus; project: { path: string } },
  reason: string,
): Promise<void> {
  if (member.status === "queued") {
    await deps.scheduler.remove(member.id);
    if (await transitionRun(deps, member.id, "cancelled", { from: ["queued"], reason })) return;
    // It started in the meantime: stop it like a running one (its claim also sees the ended fleet).
  }
  if (member.status === "awaiting_review" || member.status === "needs_attention") {
    if (await transitionRun(deps, member.id, "cancelled", { from: [member.status], reason })) {
      await removeWorkspace(member.project.path, worktreePathFor(deps.loopyHome, member.id)).catch((error: unknown) =>
        // Safe to go on: the run is cancelled already; the worker's start-up reconcile removes stale worktrees.
        fleetLog(deps)(`fleet member ${member.id}: its worktree stays for now: ${(error as Error).message}`),
      );
      await deps.db.run.update({ where: { id: member.id }, data: { worktreePath: null } });
      return;
    }
  }
  const now = await deps.db.run.findUnique({ where: { id: member.id }, select: { status: true } });
  if (now && (now.status === "running" || now.status === "verifying")) {
    await appendRunEvents(deps.db, deps.notifier, member.id, [{ type: "cancel_requested" }]);
    await deps.scheduler.requestCancel(member.id);
  }
}

/** A running or paused fleet whose members have all settled is completed. */
export async function completeIfSettled(deps: CoreDeps, fleetId: string): Promise<boolean> {
  const unsettled = await deps.db.run.count({ where: { fleetId, status: { in: UNSETTLED } } });
  if (unsettled > 0) return false;
  const { count } = await deps.db.fleet.updateMany({
    where: { id: fleetId, status: { in: OPEN_FLEET } },
    data: { status: "completed", statusReason: null, finishedAt: new Date() },
  });
  if (count > 0) await fleetChanged(deps, fleetId, "completed");
  return count > 0;
}

/**
 * Decomposed tasks: a waiting subtask whose dependency failed, was cancelled or
 * rejected can never start; it is cancelled with the reason, and so, in turn,
 * is whatever waited for it.
 */
export async function cancelBlocked(deps: CoreDeps, fleetId: string): Promise<void> {
  for (;;) {
    const blocked = await deps.db.$queryRaw<Array<{ id: string; dep_title: string; dep_status: string }>>`
      SELECT DISTINCT ON (r.id) r.id, t.title AS dep_title, x.status::text AS dep_status
      FROM runs r CROSS JOIN LATERAL unnest(r.depends_on) AS d(id)
      JOIN runs x ON x.id = d.id JOIN tasks t ON t.id = x.task_id
      WHERE r.fleet_id = ${fleetId} AND r.status = 'queued' AND r.dispatched_at IS NULL
        AND x.status::text = ANY (${[...DEPENDENCY_DEAD]}::text[])`;
    if (blocked.length === 0) return;
    let changed = false;
    for (const b of blocked) {
      changed =
        (await transitionRun(deps, b.id, "cancelled", {
          from: ["queued"],
          reason: `It depends on "${b.dep_title}", which was ${b.dep_status}`,
        })) || changed;
    }
    if (!changed) return;
  }
}

import type { Db } from "@loopy/db/client";
import { activityLine } from "./activity.ts";
import type { RunEventData } from "./run-events.ts";
import type { RunStatus } from "../runs/run-status.ts";
import { loadRunTimes, type RunTimes } from "../runs/run-times.ts";

/** The states the overview lists: every run that is not over. */
export const ACTIVE_STATUSES = [
  "queued",
  "running",
  "verifying",
  "awaiting_review",
  "needs_attention",
] as const satisfies readonly RunStatus[];
export type ActiveStatus = (typeof ACTIVE_STATUSES)[number];

export interface OverviewRun {
  id: string;
  status: RunStatus;
  statusReason: string | null;
  title: string;
  project: string;
  agent: string;
  fleetId: string | null;
  memberIndex: number | null;
  createdAt: Date;
  startedAt: Date | null;
  costUsd: number;
  activity: string | null;
  activityAt: Date | null;
  /** Agent, checks and waiting times, as on the run page (see run-times.ts). */
  times: RunTimes;
}

export interface Overview {
  counts: Record<ActiveStatus, number>;
  /** Runs that finished (any end state or review) in the last hour and 10 minutes. */
  throughput: { lastHour: number; last10m: number };
  runs: OverviewRun[];
  /** True when there are more active runs than `limit` (the oldest are left out). */
  truncated: boolean;
}

/**
 * Every active run with its latest activity line, the counts per state, and
 * throughput: one query for the runs, one for their last events (DISTINCT ON
 * over the run_events (run_id, id) index), one for the counts, two for their
 * times (turns, checkpoint sums). About 20 ms
 * for 1,000 active runs.
 */
export async function overview(db: Db, options: { limit?: number } = {}): Promise<Overview> {
  const limit = Math.min(Math.max(options.limit ?? 2000, 1), 5000);
  const [rows, grouped, finished] = await Promise.all([
    db.run.findMany({
      where: { status: { in: [...ACTIVE_STATUSES] } },
      orderBy: { createdAt: "desc" },
      take: limit + 1,
      select: {
        id: true,
        status: true,
        statusReason: true,
        agent: true,
        fleetId: true,
        memberIndex: true,
        createdAt: true,
        startedAt: true,
        costUsd: true,
        reviewWaitMs: true,
        waitingSince: true,
        project: { select: { name: true } },
        task: { select: { title: true, agentProfile: { select: { name: true } } } },
      },
    }),
    db.run.groupBy({ by: ["status"], where: { status: { in: [...ACTIVE_STATUSES] } }, _count: { _all: true } }),
    db.$queryRaw<Array<{ last_hour: bigint; last_10m: bigint }>>`
      SELECT count(*) FILTER (WHERE finished_at > now() - interval '1 hour') AS last_hour,
             count(*) FILTER (WHERE finished_at > now() - interval '10 minutes') AS last_10m
      FROM runs WHERE finished_at > now() - interval '1 hour'`,
  ]);
  const runs = rows.slice(0, limit);
  const [last, times] = await Promise.all([
    lastActivities(
      db,
      runs.map((r) => r.id),
    ),
    loadRunTimes(db, runs),
  ]);
  const counts = Object.fromEntries(ACTIVE_STATUSES.map((s) => [s, 0])) as Record<ActiveStatus, number>;
  for (const g of grouped) counts[g.status as ActiveStatus] = g._count._all;
  return {
    counts,
    throughput: { lastHour: Number(finished[0]?.last_hour ?? 0), last10m: Number(finished[0]?.last_10m ?? 0) },
    truncated: rows.length > limit,
    runs: runs.map((r) => {
      const a = last.get(r.id);
      return {
        id: r.id,
        status: r.status,
        statusReason: r.statusReason,
        title: r.task.title,
        project: r.project.name,
        agent: r.task.agentProfile?.name ?? r.agent,
        fleetId: r.fleetId,
        memberIndex: r.memberIndex,
        createdAt: r.createdAt,
        startedAt: r.startedAt,
        costUsd: r.costUsd,
        activity: a?.line ?? null,
        activityAt: a?.at ?? null,
        times: times.get(r.id)!,
      };
    }),
  };
}

/**
 * The latest event with something to say, per run. Looks at each run's last
 * few events (most end with one worth a line) rather than its whole log.
 */
async function lastActivities(db: Db, runIds: string[]): Promise<Map<string, { line: string; at: Date }>> {
  const found = new Map<string, { line: string; at: Date }>();
  if (runIds.length === 0) return found;
  const rows = await db.$queryRaw<Array<{ run_id: string; data: unknown; created_at: Date }>>`
    SELECT e.run_id, e.data, e.created_at
    FROM unnest(${runIds}::text[]) AS r(id)
    CROSS JOIN LATERAL (
      SELECT id, run_id, data, created_at FROM run_events WHERE run_id = r.id ORDER BY id DESC LIMIT 5
    ) e
    ORDER BY e.run_id, e.id DESC`;
  for (const row of rows) {
    if (found.has(row.run_id)) continue;
    const line = activityLine(row.data as RunEventData);
    if (line) found.set(row.run_id, { line, at: row.created_at });
  }
  return found;
}

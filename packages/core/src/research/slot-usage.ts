import type { Db } from "@loopy/db/client";
import { findProject } from "../projects/projects.ts";

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

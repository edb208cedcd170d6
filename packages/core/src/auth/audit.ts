import { Prisma, type Db } from "@loopy/db/client";
import type { Actor } from "./roles.ts";

/**
 * The audit log: who launched, reviewed, approved, merged, rejected, and who
 * changed projects, profiles, secrets or users, and when. Actions are dotted
 * names (`run.launch`, `review.approve`, `secret.set`, `user.create`...).
 * Details never hold secret values.
 */
export interface AuditTarget {
  kind: string;
  id: string;
}

export async function recordAudit(
  db: Db | Prisma.TransactionClient,
  actor: Actor,
  action: string,
  target?: AuditTarget | null,
  detail: Record<string, unknown> = {},
): Promise<void> {
  await db.auditEntry.create({
    data: {
      actorId: actor.userId,
      actorName: actor.via === "token" ? `${actor.name} (token)` : actor.name,
      action,
      targetKind: target?.kind ?? null,
      targetId: target?.id ?? null,
      detail: detail as Prisma.InputJsonValue,
    },
  });
}

export interface AuditFilter {
  /** An action or an action prefix ending in "." (`run.` for every run action). */
  action?: string;
  actor?: string;
  targetId?: string;
  since?: Date;
  until?: Date;
  /** Entries older than this id (for paging back). */
  before?: bigint;
  limit?: number;
}

export async function listAudit(db: Db, filter: AuditFilter = {}) {
  const limit = Math.min(Math.max(filter.limit ?? 100, 1), 500);
  const where: Prisma.AuditEntryWhereInput = {};
  if (filter.action) where.action = filter.action.endsWith(".") ? { startsWith: filter.action } : filter.action;
  if (filter.actor) where.actorName = { startsWith: filter.actor };
  if (filter.targetId) where.targetId = filter.targetId;
  if (filter.since || filter.until) where.at = { ...(filter.since ? { gte: filter.since } : {}), ...(filter.until ? { lte: filter.until } : {}) };
  if (filter.before !== undefined) where.id = { lt: filter.before };
  const rows = await db.auditEntry.findMany({ where, orderBy: { id: "desc" }, take: limit + 1 });
  const entries = rows.slice(0, limit).map((r) => ({
    id: r.id.toString(),
    at: r.at,
    actor: r.actorName,
    action: r.action,
    targetKind: r.targetKind,
    targetId: r.targetId,
    detail: r.detail as Record<string, unknown>,
  }));
  return { entries, more: rows.length > limit };
}

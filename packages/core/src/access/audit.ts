import type { Prisma, Db } from "@loopy/db/client";
import type { Actor } from "./roles.ts";

/**
 * The audit log: who launched, reviewed, approved, merged, rejected, and who
 * changed projects, profiles, secrets or users, and when. Every API mutation
 * is recorded under its procedure's path (`runs.launch`, `review.approve`,
 * `secrets.set`, `auth.createUser`...) by the API's audit middleware; sign-ins
 * and first start are recorded here. Details never hold secret values.
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
  if (filter.since || filter.until)
    where.at = { ...(filter.since ? { gte: filter.since } : {}), ...(filter.until ? { lte: filter.until } : {}) };
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

const HIDDEN_KEYS = /^(value|password|token|secret|apikey|api_key)$/i;
const MAX_TEXT = 200;

/**
 * What of a mutation's input goes into the audit log: top-level scalars and
 * short scalar lists, long text cut, and never a value, password or token.
 */
export function auditDetail(input: unknown): Record<string, unknown> {
  if (!input || typeof input !== "object" || Array.isArray(input)) return {};
  const detail: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if (HIDDEN_KEYS.test(key)) {
      detail[key] = "[hidden]";
      continue;
    }
    const kept = auditValue(value);
    if (kept !== undefined) detail[key] = kept;
  }
  return detail;
}

function auditValue(value: unknown): unknown {
  if (typeof value === "string")
    return value.length > MAX_TEXT ? `${value.slice(0, MAX_TEXT)}… (${value.length} chars)` : value;
  if (typeof value === "number" || typeof value === "boolean") return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) {
    const scalars = value.filter((v) => typeof v === "string" || typeof v === "number" || typeof v === "boolean");
    if (scalars.length === value.length)
      return value.length > 20
        ? [...scalars.slice(0, 20).map(auditValue), `… ${value.length} items`]
        : scalars.map(auditValue);
    return `[${value.length} items]`;
  }
  return undefined;
}

const TARGET_KEYS: Array<[string, string]> = [
  ["runId", "run"],
  ["fleetId", "fleet"],
  ["loopId", "research"],
  ["experimentId", "experiment"],
  ["commentId", "comment"],
  ["project", "project"],
  ["name", "name"],
  ["id", "id"],
];

/** The thing a mutation acted on: the id it created (from its result), else the id it was given. */
export function auditTarget(path: string, input: unknown, result: unknown): AuditTarget | null {
  const kind = path.split(".")[0] ?? path;
  if (result && typeof result === "object" && typeof (result as { id?: unknown }).id === "string") {
    return { kind, id: (result as { id: string }).id };
  }
  if (input && typeof input === "object") {
    for (const [key, k] of TARGET_KEYS) {
      const v = (input as Record<string, unknown>)[key];
      if (typeof v === "string" && v) return { kind: k === "name" || k === "id" ? kind : k, id: v.slice(0, 200) };
    }
  }
  return null;
}

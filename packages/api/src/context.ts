import type { Actor } from "@loopy/core/auth/roles";
import { recordAudit, type AuditTarget } from "@loopy/core/auth/audit";
import type { Services } from "./services.ts";

export interface Context {
  services: Services;
  /** Who is calling; null when the request proved no identity. */
  actor: Actor | null;
  /** False when a browser-session request lacks its session's CSRF token (mutations are then refused). */
  csrfValid: boolean;
}

export function createContext(services: Services, actor: Actor | null, csrfValid = true): Context {
  return { services, actor, csrfValid };
}

/**
 * An extra audit entry. Every successful mutation is already recorded by the
 * audit middleware (packages/api/src/trpc.ts); use this only for something else.
 */
export function audit(
  ctx: { services: Services; actor: Actor },
  action: string,
  target?: AuditTarget | null,
  detail?: Record<string, unknown>,
) {
  return recordAudit(ctx.services.db, ctx.actor, action, target, detail);
}

import type { Actor } from "@loopy/core/access/roles";
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

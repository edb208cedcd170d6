/** What a caller may do. Each role includes every role before it. */
export const ROLES = ["viewer", "reviewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** What each role adds, for help texts and the users page. */
export const ROLE_DESCRIPTIONS: Record<Role, string> = {
  viewer: "reads everything except secrets",
  reviewer: "also comments, approves, rejects and merges",
  operator: "also launches and cancels runs, fleets and research loops",
  admin: "also manages projects, agent profiles, secrets, users and tokens",
};

export function roleAtLeast(role: Role, minimum: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(minimum);
}

/**
 * Who is calling. `via` says how they proved it: a browser session (whose
 * mutations must carry its CSRF token), an API token, or Loopy itself (tests,
 * scripts in-process).
 */
export interface Actor {
  /** The user's id; null for Loopy itself. */
  userId: string | null;
  name: string;
  role: Role;
  via: "session" | "token" | "system";
  /** The API token's id when via is "token". */
  tokenId?: string;
}

/** Loopy acting on its own behalf (in-process scripts, tests). Never the result of a request. */
export const SYSTEM_ACTOR: Actor = { userId: null, name: "loopy", role: "admin", via: "system" };

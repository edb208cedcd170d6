import { actorFromSession, actorFromToken } from "@loopy/core/access";
import type { Actor } from "@loopy/core/access/roles";
import type { Db } from "@loopy/db/client";

/** The browser session cookie (HttpOnly) and its CSRF companion (readable by the page, sent back as a header). */
export const SESSION_COOKIE = "loopy_session";
const CSRF_COOKIE = "loopy_csrf";
export const CSRF_HEADER = "x-loopy-csrf";

export function readCookie(req: { headers: Headers }, name: string): string | null {
  const header = req.headers.get("cookie");
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

/**
 * Who a request comes from: `Authorization: Bearer <API token>` (CLI,
 * automation), else the session cookie (browsers). For a session, `csrfValid`
 * says whether the request carries the session's CSRF token in its header; a
 * bearer token cannot be attached by another site, so it needs none.
 */
export async function actorOfRequest(
  db: Db,
  req: { headers: Headers },
): Promise<{ actor: Actor | null; csrfValid: boolean }> {
  const authorization = req.headers.get("authorization");
  if (authorization) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    return { actor: match ? await actorFromToken(db, match[1] as string) : null, csrfValid: true };
  }
  const cookie = readCookie(req, SESSION_COOKIE);
  if (!cookie) return { actor: null, csrfValid: false };
  const session = await actorFromSession(db, cookie);
  if (!session) return { actor: null, csrfValid: false };
  return { actor: session.actor, csrfValid: req.headers.get(CSRF_HEADER) === session.csrfToken };
}

/** Set-Cookie values for a new session; `secure` when the request came over HTTPS. */
export function sessionCookies(
  session: { token: string; csrfToken: string; expiresAt: Date },
  secure: boolean,
): string[] {
  const common = `Path=/; Expires=${session.expiresAt.toUTCString()}; SameSite=Lax${secure ? "; Secure" : ""}`;
  return [`${SESSION_COOKIE}=${session.token}; HttpOnly; ${common}`, `${CSRF_COOKIE}=${session.csrfToken}; ${common}`];
}

export function clearedCookies(): string[] {
  const gone = "Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax";
  return [`${SESSION_COOKIE}=; HttpOnly; ${gone}`, `${CSRF_COOKIE}=; ${gone}`];
}

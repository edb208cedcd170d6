import { signInWithPassword, signInWithToken } from "@loopy/core/auth/accounts";
import { AppError } from "@loopy/core/errors";
import { requestClientAddress } from "./client-address.ts";
import { sessionCookies } from "./http-auth.ts";
import { refuseForeignRequest } from "./request-guard.ts";
import type { Services } from "./services.ts";
import type { SignInLimiter } from "./sign-in-limiter.ts";

/**
 * The web's API route handlers (apps/web/src/app/api/…/route.ts only call these), here so tests can
 * serve them over HTTP as Next.js does, without a Next.js build.
 */

/**
 * `/api/auth/login`: signs a browser in with `{ name, password }`, or `{ token }` (an API token). Sets
 * the HttpOnly session cookie and the CSRF cookie. Repeated failures are slowed down per client address
 * (as the web server determined it: see client-address.ts) and per user name.
 */
export async function handleSignIn(req: Request, services: Services, limiter: SignInLimiter): Promise<Response> {
  const refused = refuseForeignRequest(req, services.env.HOST);
  if (refused) return Response.json({ error: refused }, { status: 403 });
  // Counted per client address and per user name: an address is one limit (a client cannot pick a
  // new one per attempt), and a user name another, so many addresses cannot guess one password faster.
  const client = `ip:${requestClientAddress(req)}`;
  const tooMany = (keys: string[]) => {
    const wait = Math.max(...keys.map((k) => limiter.retryAfterMs(k)));
    return wait > 0 ? Response.json({ error: `Too many failed sign-ins; try again in ${Math.ceil(wait / 1000)} s` }, { status: 429, headers: { "retry-after": String(Math.ceil(wait / 1000)) } }) : null;
  };
  const early = tooMany([client]);
  if (early) return early;
  let body: unknown;
  try {
    const text = await req.text();
    if (text.length > 10_000) return Response.json({ error: "Request too large" }, { status: 413 });
    body = JSON.parse(text);
  } catch {
    return Response.json({ error: 'Send JSON: { "name": "...", "password": "..." } or { "token": "..." }' }, { status: 400 });
  }
  const { name, password, token } = (body ?? {}) as Record<string, unknown>;
  const keys = typeof name === "string" ? [client, `user:${name.trim()}`] : [client];
  const limited = tooMany(keys);
  if (limited) return limited;
  try {
    let session;
    if (typeof token === "string" && token) session = await signInWithToken(services.db, token.trim());
    else if (typeof name === "string" && typeof password === "string" && name && password) session = await signInWithPassword(services.db, name.trim(), password);
    else return Response.json({ error: "Give a user name and a password (or a token)" }, { status: 400 });
    for (const key of keys) limiter.succeeded(key);
    const secure = new URL(req.url).protocol === "https:" || req.headers.get("x-forwarded-proto") === "https";
    const headers = new Headers({ "content-type": "application/json" });
    for (const cookie of sessionCookies(session, secure)) headers.append("set-cookie", cookie);
    return new Response(JSON.stringify({ user: session.user }), { status: 200, headers });
  } catch (error) {
    if (error instanceof AppError && error.code === "UNAUTHENTICATED") {
      for (const key of keys) limiter.failed(key);
      return Response.json({ error: error.message }, { status: 401 });
    }
    throw error;
  }
}

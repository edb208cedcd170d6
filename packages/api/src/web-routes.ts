import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { type NewSession, signInWithCode, signInWithPassword, signInWithToken } from "@loopy/core/access";
import { AppError } from "@loopy/core/shared";
import { readBodyCapped, declaredTooLarge, describeLimit, KIB, MIB } from "./body-limit.ts";
import { requestClientAddress } from "./client-address.ts";
import { createContext } from "./context.ts";
import { actorOfRequest, sessionCookies } from "./http-auth.ts";
import { refuseForeignRequest } from "./request-guard.ts";
import { appRouter } from "./root.ts";
import type { Services } from "./services.ts";
import type { SignInLimiter } from "./sign-in-limiter.ts";

/**
 * The web's API route handlers (apps/web/src/app/api/…/route.ts only call these), here so tests can
 * serve them over HTTP as Next.js does, without a Next.js build.
 */

/** A sign-in body is a name and a password, or a token: a few hundred bytes. */
export const SIGN_IN_BODY_LIMIT = 16 * KIB;
/** Any tRPC call: the largest inputs (a 200,000-character prompt, a fleet plan) fit many times over. */
export const TRPC_BODY_LIMIT = 4 * MIB;
/** `research.importTsv` takes a results.tsv of up to 20 M characters, for a signed-in caller only. */
export const IMPORT_BODY_LIMIT = 48 * MIB;
const LARGE_BODY_PROCEDURES = new Set(["research.importTsv"]);

const tooLarge = (max: number) => `Request body too large: at most ${describeLimit(max)}`;
// The connection is closed after the refusal, so the rest of a large body is not read either.
const closing = { connection: "close" };

/** The procedures a tRPC request names (`/api/trpc/a,b?batch=1`). */
function procedurePaths(url: URL): string[] {
  const last = url.pathname.split("/").pop() ?? "";
  return decodeURIComponent(last).split(",").filter(Boolean);
}

/** A 413 in tRPC's own error shape (superjson, batched or not), so the web and the CLI show its message. */
function trpcTooLarge(url: URL, max: number): Response {
  const paths = procedurePaths(url);
  const error = (path: string | undefined) => ({
    json: {
      message: tooLarge(max),
      code: -32413,
      data: { code: "PAYLOAD_TOO_LARGE", httpStatus: 413, ...(path ? { path } : {}) },
    },
  });
  const body =
    url.searchParams.get("batch") === "1"
      ? (paths.length ? paths : [undefined]).map((p) => ({ error: error(p) }))
      : { error: error(paths[0]) };
  return Response.json(body, { status: 413, headers: closing });
}

/** `/api/trpc/*`: the whole API. The body is capped (see TRPC_BODY_LIMIT) before tRPC reads it. */
export async function handleTrpc(req: Request, services: Services): Promise<Response> {
  const refused = refuseForeignRequest(req, services.env.HOST);
  if (refused) return Response.json({ error: { message: refused } }, { status: 403 });
  const url = new URL(req.url);
  const allowance = procedurePaths(url).some((p) => LARGE_BODY_PROCEDURES.has(p)) ? IMPORT_BODY_LIMIT : TRPC_BODY_LIMIT;
  if (declaredTooLarge(req, allowance)) return trpcTooLarge(url, allowance);
  const { actor, csrfValid } = await actorOfRequest(services.db, req);
  let request = req;
  if (req.method !== "GET" && req.method !== "HEAD") {
    const limit = actor ? allowance : TRPC_BODY_LIMIT;
    const body = await readBodyCapped(req, limit);
    if (!body) return trpcTooLarge(url, limit);
    request = new Request(req.url, { method: req.method, headers: req.headers, body, signal: req.signal });
  }
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req: request,
    router: appRouter,
    createContext: () => createContext(services, actor, csrfValid),
    onError({ error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR") console.error(`[api] ${path ?? "?"}: ${error.message}`);
    },
  });
}

/**
 * `/api/auth/login`: signs a browser in with `{ name, password }`, `{ code }` (a one-time sign-in code:
 * the link `npm start` and `loopy sign-in-link` print), or `{ token }` (an API token). Sets
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
    return wait > 0
      ? Response.json(
          { error: `Too many failed sign-ins; try again in ${Math.ceil(wait / 1000)} s` },
          { status: 429, headers: { "retry-after": String(Math.ceil(wait / 1000)) } },
        )
      : null;
  };
  const early = tooMany([client]);
  if (early) return early;
  let body: unknown;
  try {
    const bytes = await readBodyCapped(req, SIGN_IN_BODY_LIMIT);
    if (!bytes) return Response.json({ error: tooLarge(SIGN_IN_BODY_LIMIT) }, { status: 413, headers: closing });
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return Response.json(
      { error: 'Send JSON: { "name": "...", "password": "..." }, { "code": "..." } or { "token": "..." }' },
      { status: 400 },
    );
  }
  const { name, password, token, code } = (body ?? {}) as Record<string, unknown>;
  const keys = typeof name === "string" ? [client, `user:${name.trim()}`] : [client];
  const limited = tooMany(keys);
  if (limited) return limited;
  try {
    let session: NewSession;
    if (typeof code === "string" && code) session = await signInWithCode(services.db, code.trim());
    else if (typeof token === "string" && token) session = await signInWithToken(services.db, token.trim());
    else if (typeof name === "string" && typeof password === "string" && name && password)
      session = await signInWithPassword(services.db, name.trim(), password);
    else
      return Response.json(
        { error: "Give a user name and a password (or a sign-in code, or a token)" },
        { status: 400 },
      );
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
    if (error instanceof AppError && error.code === "FORBIDDEN")
      return Response.json({ error: error.message }, { status: 403 });
    throw error;
  }
}

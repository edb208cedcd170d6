import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError } from "zod";
import { AppError, type AppErrorCode } from "@loopy/core/shared";
import { type Actor, type Role, roleAtLeast } from "@loopy/core/access/roles";
import { auditDetail, auditTarget, recordAudit } from "@loopy/core/access";
import type { Context } from "./context.ts";

/** Every procedure declares the least role that may call it (see `authorize`). */
export interface Meta {
  role: Role;
}

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    transformer: superjson,
    sse: {
      ping: { enabled: true, intervalMs: 10_000 },
      client: { reconnectAfterInactivityMs: 25_000 },
    },
    errorFormatter({ shape, error }) {
      return {
        ...shape,
        data: { ...shape.data, appCode: error.cause instanceof AppError ? error.cause.code : undefined },
      };
    },
  });

const TRPC_CODE: Record<AppErrorCode, TRPCError["code"]> = {
  BAD_INPUT: "BAD_REQUEST",
  UNAUTHENTICATED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  UNAVAILABLE: "SERVICE_UNAVAILABLE",
  INTERNAL: "INTERNAL_SERVER_ERROR",
};

/** The one place where domain errors become API errors. */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof AppError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: TRPC_CODE[cause.code], message: cause.message, cause });
  }
  if (!result.ok && result.error.cause instanceof ZodError) {
    const message = result.error.cause.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; ");
    throw new TRPCError({ code: "BAD_REQUEST", message, cause: result.error.cause });
  }
  return result;
});

/**
 * The one gate in front of every procedure, queries, mutations and live streams
 * alike: an anonymous caller is refused, so is a caller whose role is below
 * the procedure's, and so is a browser-session mutation without its CSRF token.
 * A procedure without a declared role is refused too (fail closed).
 */
const authorize = t.middleware(({ ctx, meta, type, next }) => {
  const needed = meta?.role;
  if (!needed)
    throw new TRPCError({ code: "FORBIDDEN", message: "This procedure declares no role, so nobody may call it" });
  const actor = ctx.actor;
  if (!actor) {
    throw new TRPCError({
      code: "UNAUTHORIZED",
      message:
        "Sign in first: in a browser at /login; from the CLI with an API token (LOOPY_TOKEN, or the token file in LOOPY_HOME)",
    });
  }
  if (type === "mutation" && actor.via === "session" && !ctx.csrfValid) {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: "Missing or wrong CSRF token: send the loopy_csrf cookie's value in the x-loopy-csrf header",
    });
  }
  if (!roleAtLeast(actor.role, needed)) {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: `This needs the ${needed} role; ${actor.name} has ${actor.role}`,
    });
  }
  return next({ ctx: { actor: actor as Actor } });
});

/**
 * Every successful mutation goes into the audit log under its path, with who,
 * when, what it acted on and its input's scalars (values, passwords and
 * tokens hidden). A procedure added later is recorded without anyone having
 * to remember it.
 */
const auditMutations = t.middleware(async ({ ctx, type, path, getRawInput, next }) => {
  const result = await next();
  if (type === "mutation" && result.ok && ctx.actor) {
    // The procedure already succeeded with its input; one unreadable now is recorded without its details.
    const input = await getRawInput().catch(() => undefined);
    await recordAudit(
      ctx.services.db,
      ctx.actor,
      path,
      auditTarget(path, input, result.data),
      auditDetail(input),
    ).catch((error: unknown) => {
      console.error(`[audit] could not record ${path}: ${error instanceof Error ? error.message : String(error)}`);
    });
  }
  return result;
});

const authorized = t.procedure.use(mapErrors).use(authorize).use(auditMutations);

export const router = t.router;
/** Reads: everything but secrets. */
export const viewerProcedure = authorized.meta({ role: "viewer" });
/** Review actions: comment, request changes, approve, reject. */
export const reviewerProcedure = authorized.meta({ role: "reviewer" });
/** Launch, pause and cancel runs, fleets and research loops. */
export const operatorProcedure = authorized.meta({ role: "operator" });
/** Projects, agent profiles, secrets, users, tokens, the audit log. */
export const adminProcedure = authorized.meta({ role: "admin" });
export const createCallerFactory = t.createCallerFactory;

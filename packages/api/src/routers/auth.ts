import { z } from "zod";
import { date, loopyId, text } from "../inputs.ts";
import { createApiToken, createUser, listApiTokens, listUsers, revokeApiToken, updateUser } from "@loopy/core/access";
import { listAudit } from "@loopy/core/access";
import { changeOwnPassword, createOwnSignInCode } from "@loopy/core/access";
import { ROLES } from "@loopy/core/access/roles";
import { adminProcedure, router, viewerProcedure } from "../trpc.ts";

const role = z.enum(ROLES);
const userName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,39}$/, "not a user name (lower-case letters, digits, '.', '_' and '-', at most 40)");
const password = text(1024).min(10, "a password needs at least 10 characters");

export const authRouter = router({
  /** Who the caller is. */
  me: viewerProcedure.query(({ ctx }) => ({ name: ctx.actor.name, role: ctx.actor.role, via: ctx.actor.via })),

  /** Any signed-in user changes their own password (all their browser sessions end). */
  changePassword: viewerProcedure
    .input(z.object({ password }))
    .mutation(({ ctx, input }) => changeOwnPassword(ctx.services.db, ctx.actor, input.password)),

  /**
   * A one-time sign-in code for the caller's own user (`loopy sign-in-link`): the browser exchanges it
   * once at /api/auth/login within 15 minutes. Refused to a token scoped below its user's role, since a
   * browser session has the user's full role.
   */
  signInLink: viewerProcedure.mutation(({ ctx }) => createOwnSignInCode(ctx.services.db, ctx.actor)),

  users: adminProcedure.query(({ ctx }) => listUsers(ctx.services.db)),

  createUser: adminProcedure
    .input(z.object({ name: userName, role, password: password.optional() }))
    .mutation(({ ctx, input }) => createUser(ctx.services.db, input)),

  /** Change a user's role, disable or enable them, or set their password. */
  updateUser: adminProcedure
    .input(
      z.object({
        name: userName,
        role: role.optional(),
        disabled: z.boolean().optional(),
        password: password.optional(),
      }),
    )
    .mutation(({ ctx, input }) => {
      const { name, ...change } = input;
      return updateUser(ctx.services.db, name, change);
    }),

  tokens: adminProcedure.query(({ ctx }) => listApiTokens(ctx.services.db)),

  /** A new API token; its value is returned once and never again. `user` defaults to the caller. */
  createToken: adminProcedure
    .input(z.object({ name: text(80).min(1), user: userName.optional(), role: role.optional() }))
    .mutation(({ ctx, input }) => {
      const user = input.user ?? ctx.actor.name;
      return createApiToken(ctx.services.db, { user, name: input.name, role: input.role });
    }),

  revokeToken: adminProcedure
    .input(z.object({ id: loopyId }))
    .mutation(({ ctx, input }) => revokeApiToken(ctx.services.db, input.id)),

  /** The audit log, newest first, filterable by action (or prefix ending in "."), actor, target and time. */
  audit: viewerProcedure
    .input(
      z
        .object({
          action: text(100).optional(),
          actor: text(100).optional(),
          targetId: text(100).optional(),
          since: date.optional(),
          until: date.optional(),
          /** Entries older than this entry id (the last id of the previous page). */
          cursor: z
            .string()
            .regex(/^\d{1,18}$/)
            .optional(),
          limit: z.number().int().min(1).max(500).optional(),
        })
        .optional(),
    )
    .query(({ ctx, input }) => {
      const { cursor, ...filter } = input ?? {};
      return listAudit(ctx.services.db, { ...filter, before: cursor ? BigInt(cursor) : undefined });
    }),
});

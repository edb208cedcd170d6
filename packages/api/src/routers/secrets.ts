import { z } from "zod";
import { secretName } from "../inputs.ts";
import { deleteSecret, listSecretNames, setSecret } from "@loopy/core/secrets";
import { adminProcedure, router } from "../trpc.ts";

const name = secretName;

/**
 * Stored secrets (model API keys). Admins only; no procedure ever returns a
 * value. The audit middleware records set and delete with the name (the
 * value is hidden there too).
 */
export const secretsRouter = router({
  /** Names and dates, never values. */
  list: adminProcedure.query(({ ctx }) => listSecretNames(ctx.services.db)),

  /** Stores or replaces a secret; returns its name only. */
  set: adminProcedure
    .input(z.object({ name, value: z.string().max(1024 * 1024) }))
    .mutation(({ ctx, input }) =>
      setSecret(
        ctx.services.db,
        { value: ctx.services.env.LOOPY_MASTER_KEY, loopyHome: ctx.services.loopyHome },
        { ...input, updatedBy: ctx.actor.name },
      ),
    ),

  delete: adminProcedure
    .input(z.object({ name }))
    .mutation(({ ctx, input }) => deleteSecret(ctx.services.db, input.name)),
});

import { z } from "zod";
import { createProfile, listProfiles } from "@loopy/core/profiles";
import { adminProcedure, viewerProcedure, router } from "../trpc.ts";

export const profilesRouter = router({
  list: viewerProcedure.query(({ ctx }) => listProfiles(ctx.services.db)),

  add: adminProcedure
    .input(z.object({ name: z.string().max(64), adapter: z.string().max(64), config: z.record(z.string(), z.unknown()).optional() }))
    .mutation(({ ctx, input }) => createProfile(ctx.services.db, input)),
});

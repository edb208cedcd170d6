import { z } from "zod";
import { agentRef, boundedJson, text } from "../inputs.ts";
import { createProfile, listProfiles } from "@loopy/core/projects";
import { adminProcedure, viewerProcedure, router } from "../trpc.ts";

export const profilesRouter = router({
  list: viewerProcedure.query(({ ctx }) => listProfiles(ctx.services.db)),

  add: adminProcedure
    .input(z.object({ name: agentRef, adapter: agentRef, config: z.record(text(128), boundedJson()).optional() }))
    .mutation(({ ctx, input }) => createProfile(ctx.services.db, input)),
});

import { z } from "zod";
import { findProject, listProjects, registerProject } from "@loopy/core/projects";
import { publicProcedure, router } from "../trpc.ts";

export const projectsRouter = router({
  list: publicProcedure.query(({ ctx }) => listProjects(ctx.services.db)),

  get: publicProcedure.input(z.object({ project: z.string() })).query(({ ctx, input }) => findProject(ctx.services.db, input.project)),

  add: publicProcedure
    .input(z.object({ path: z.string().max(4096), name: z.string().max(64).optional() }))
    .mutation(({ ctx, input }) => registerProject(ctx.services.db, input)),
});

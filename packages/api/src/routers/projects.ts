import { z } from "zod";
import { agentRef, boundedJson, projectRef, smallInt, text } from "../inputs.ts";
import { findProject, listProjects, registerProject, updateProjectSettings } from "@loopy/core/projects";
import { memoryHistory, saveMemory } from "@loopy/core/projects";
import { adminProcedure, operatorProcedure, viewerProcedure, router } from "../trpc.ts";

export const projectsRouter = router({
  list: viewerProcedure.query(({ ctx }) => listProjects(ctx.services.db)),

  get: viewerProcedure
    .input(z.object({ project: projectRef }))
    .query(({ ctx, input }) => findProject(ctx.services.db, input.project)),

  add: adminProcedure
    .input(
      z.object({
        path: text(4096),
        name: text(64).optional(),
        checkpoints: z.array(boundedJson()).max(100).optional(),
      }),
    )
    .mutation(({ ctx, input }) => registerProject(ctx.services.db, input)),

  /** Checkpoints (see packages/core/src/checkpoints.ts), merge strategy and attempts per run. */
  update: adminProcedure
    .input(
      z.object({
        project: projectRef,
        checkpoints: z.array(boundedJson()).max(100).optional(),
        mergeStrategy: z.enum(["merge", "squash"]).optional(),
        maxAttempts: smallInt.optional(),
        /** [{ tag, agent }]: a task's tags pick its agent (adapter or profile); first match wins. */
        routingRules: z
          .array(z.object({ tag: text(64), agent: agentRef }))
          .max(100)
          .optional(),
        /** Hosts the project's sandboxed agents, checkpoints and experiments may reach through the egress proxy. */
        egressHosts: z.array(text(255)).max(100).optional(),
        /** The author of approvals' commits on the default branch (the committer stays Loopy); an empty name means Loopy. */
        commitAuthorName: text(100).optional(),
        commitAuthorEmail: text(254).optional(),
      }),
    )
    .mutation(({ ctx, input }) => updateProjectSettings(ctx.services.db, input.project, input)),

  /** The project's shared memory and its versions (who changed it, when). */
  memory: viewerProcedure
    .input(z.object({ project: projectRef }))
    .query(({ ctx, input }) => memoryHistory(ctx.services.db, input.project)),

  saveMemory: operatorProcedure
    .input(z.object({ project: projectRef, content: text(65_536) }))
    .mutation(({ ctx, input }) => saveMemory(ctx.services.db, input.project, input.content)),
});

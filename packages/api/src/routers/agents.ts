import { listAgents } from "@loopy/core/projects";
import { readWorkerSandboxes } from "@loopy/queue/worker-sandbox";
import { viewerProcedure, router } from "../trpc.ts";

export const agentsRouter = router({
  /** The agents this Loopy can run. */
  list: viewerProcedure.query(({ ctx }) => listAgents(ctx.services.agentBinDirs)),
  /**
   * Each live worker's sandbox: whether its agents run inside bubblewrap and, when not, why
   * (LOOPY_SANDBOX=off, or bubblewrap missing or not working there). The web shows a banner for the unconfined ones.
   */
  sandbox: viewerProcedure.query(({ ctx }) => readWorkerSandboxes(ctx.services.redis, ctx.services.prefix)),
});

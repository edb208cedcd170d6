import { agentNames, findAgent } from "@loopy/agents/registry";
import { viewerProcedure, router } from "../trpc.ts";

export const agentsRouter = router({
  /** The agents this Loopy can run. */
  list: viewerProcedure.query(async ({ ctx }) =>
    Promise.all(
      agentNames().map(async (name) => {
        const agent = findAgent(name)!;
        return { name, label: agent.label, takes: agent.takes, resumable: agent.resumable, missing: await agent.unavailable({ binDirs: ctx.services.agentBinDirs, profile: { model: "-", baseUrl: "http://-" } }) };
      }),
    ),
  ),
});

import { agentNames, findAgent } from "@loopy/agents/registry";
import { publicProcedure, router } from "../trpc.ts";

export const agentsRouter = router({
  /** The agents this Loopy can run. */
  list: publicProcedure.query(() => agentNames().map((name) => ({ name, label: findAgent(name)?.label ?? name }))),
});

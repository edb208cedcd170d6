import { projectsRouter } from "./routers/projects.ts";
import { runsRouter } from "./routers/runs.ts";
import { agentsRouter } from "./routers/agents.ts";
import { createCallerFactory, router } from "./trpc.ts";

export const appRouter = router({
  projects: projectsRouter,
  runs: runsRouter,
  agents: agentsRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
export { createContext } from "./context.ts";

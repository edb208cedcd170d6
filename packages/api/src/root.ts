import { projectsRouter } from "./routers/projects.ts";
import { runsRouter } from "./routers/runs.ts";
import { agentsRouter } from "./routers/agents.ts";
import { profilesRouter } from "./routers/profiles.ts";
import { reviewRouter } from "./routers/review.ts";
import { researchRouter } from "./routers/research.ts";
import { fleetsRouter } from "./routers/fleets.ts";
import { authRouter } from "./routers/auth.ts";
import { overviewRouter } from "./routers/overview.ts";
import { secretsRouter } from "./routers/secrets.ts";
import { createCallerFactory, router } from "./trpc.ts";

export const appRouter = router({
  projects: projectsRouter,
  runs: runsRouter,
  agents: agentsRouter,
  profiles: profilesRouter,
  review: reviewRouter,
  research: researchRouter,
  fleets: fleetsRouter,
  auth: authRouter,
  overview: overviewRouter,
  secrets: secretsRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
export { createContext } from "./context.ts";

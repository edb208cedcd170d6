import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter, createContext } from "@loopy/api";
import { getServices } from "@loopy/api/services";
import { refuseForeignRequest } from "@loopy/api/request-guard";
import { actorOfRequest } from "@loopy/api/http-auth";

export const dynamic = "force-dynamic";

async function handler(req: Request) {
  const services = getServices();
  const refused = refuseForeignRequest(req, services.env.HOST);
  if (refused) return Response.json({ error: { message: refused } }, { status: 403 });
  const { actor, csrfValid } = await actorOfRequest(services.db, req);
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createContext(services, actor, csrfValid),
    onError({ error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR") console.error(`[api] ${path ?? "?"}: ${error.message}`);
    },
  });
}

export { handler as GET, handler as POST };

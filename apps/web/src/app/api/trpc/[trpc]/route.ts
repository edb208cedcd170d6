import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter, createContext } from "@loopy/api";
import { getServices } from "@loopy/api/services";
import { refuseForeignRequest } from "@loopy/api/request-guard";

export const dynamic = "force-dynamic";

function handler(req: Request) {
  const refused = refuseForeignRequest(req, getServices().env.HOST);
  if (refused) return Response.json({ error: { message: refused } }, { status: 403 });
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createContext(getServices()),
    onError({ error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR") console.error(`[api] ${path ?? "?"}: ${error.message}`);
    },
  });
}

export { handler as GET, handler as POST };

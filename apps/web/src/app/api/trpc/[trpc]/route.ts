import { getServices } from "@loopy/api/services";
import { handleTrpc } from "@loopy/api/web-routes";

export const dynamic = "force-dynamic";

/** The whole API (packages/api/src/web-routes.ts: origin check, body cap, who calls, tRPC). */
function handler(req: Request) {
  return handleTrpc(req, getServices());
}

export { handler as GET, handler as POST };

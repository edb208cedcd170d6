import { signOut } from "@loopy/core/access";
import { getServices } from "@loopy/api/services";
import { refuseForeignRequest } from "@loopy/api/request-guard";
import { clearedCookies, readCookie, SESSION_COOKIE } from "@loopy/api/http-auth";

export const dynamic = "force-dynamic";

/** Ends the browser session (the row goes, so a copied cookie stops working too). */
export async function POST(req: Request) {
  const services = getServices();
  const refused = refuseForeignRequest(req, services.env.HOST);
  if (refused) return Response.json({ error: refused }, { status: 403 });
  const token = readCookie(req, SESSION_COOKIE);
  if (token) await signOut(services.db, token);
  const headers = new Headers({ "content-type": "application/json" });
  for (const cookie of clearedCookies()) headers.append("set-cookie", cookie);
  return new Response(JSON.stringify({ ok: true }), { status: 200, headers });
}

import { NextResponse, type NextRequest } from "next/server";

/**
 * Sends a browser without a session cookie to the sign-in form. Only a
 * convenience: the API checks the session and the role on every call.
 */
export function proxy(request: NextRequest) {
  if (request.cookies.get("loopy_session")?.value) return NextResponse.next();
  const url = request.nextUrl.clone();
  const next = request.nextUrl.pathname + request.nextUrl.search;
  url.pathname = "/login";
  url.search = next === "/" ? "" : `?next=${encodeURIComponent(next)}`;
  return NextResponse.redirect(url);
}

export const config = {
  // Pages only: not the API (it answers 401 itself), the sign-in form, or static files (the icon too: the sign-in form shows it).
  matcher: ["/((?!api/|login|_next/|favicon\\.ico|icon\\.svg).*)"],
};

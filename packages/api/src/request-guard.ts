const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/**
 * Refuses requests a web page on another site could make through the browser
 * (DNS rebinding, cross-site posts): when Loopy listens on loopback only, the
 * Host header must be a loopback name; and a request that carries an Origin
 * must come from the host it is addressed to. Returns the reason to refuse, or null.
 */
export function refuseForeignRequest(req: Request, listenHost: string): string | null {
  const host = req.headers.get("host") ?? "";
  const hostname = host.replace(/:\d+$/, "");
  if (LOOPBACK.has(listenHost) && !LOOPBACK.has(hostname)) {
    return `Loopy listens on ${listenHost} and refuses requests addressed to ${host || "no host"}`;
  }
  const origin = req.headers.get("origin");
  if (origin && origin !== "null") {
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      return "bad Origin header";
    }
    if (originHost !== host) return `cross-origin request from ${origin} refused`;
  } else if (origin === "null") {
    return "cross-origin request refused";
  }
  return null;
}

/**
 * The web process: Next.js behind a plain Node HTTP server of ours, for one thing `next start` cannot
 * do: tell route handlers who is calling. Next passes a client's own X-Forwarded-For through to them
 * (it fills the header in only when it is missing) and gives them no socket, so a client could pick a
 * new address for every sign-in attempt. Here each request gets the client address from the socket
 * (or, from a proxy named in LOOPY_TRUSTED_PROXIES, from X-Forwarded-For) in a header of its own, and
 * loses the proxy headers when its peer is no trusted proxy (see packages/api/src/client-address.ts).
 *
 *   node --import tsx src/server.ts [--hostname H] [--port P] [--dev]     (HOST and PORT otherwise)
 */
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import next from "next";
import { loadEnv } from "@loopy/config/env";
import { markClientAddress, trustedProxies } from "@loopy/api/client-address";

const { values } = parseArgs({
  options: { hostname: { type: "string" }, port: { type: "string" }, dev: { type: "boolean", default: false } },
});
const env = loadEnv();
const hostname = values.hostname ?? env.HOST;
const port = Number(values.port ?? env.PORT);
const trusted = trustedProxies(env.trustedProxies);

const server = createServer();
const app = next({
  dev: values.dev,
  dir: path.resolve(path.dirname(fileURLToPath(import.meta.url)), ".."),
  hostname,
  port,
  httpServer: server,
});
await app.prepare();
const handle = app.getRequestHandler();
server.on("request", (req, res) => {
  markClientAddress(req, trusted);
  void handle(req, res);
});
server.listen(port, hostname, () => {
  console.log(
    `web: listening on http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}${trusted ? `; trusting proxy headers from ${env.trustedProxies.join(", ")}` : ""}`,
  );
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  // Open live streams (SSE) would keep the server up: they are cut, browsers reconnect to the next one.
  server.close();
  server.closeAllConnections();
  void app.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 5_000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

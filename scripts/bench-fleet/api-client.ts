/** The API over HTTP with real authentication, as apps/web serves it, and the CLI's client of it. */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createTRPCClient, httpLink, httpSubscriptionLink, splitLink } from "@trpc/client";
import { createHTTPServer } from "@trpc/server/adapters/standalone";
import { EventSource } from "eventsource";
import superjson from "superjson";
import { type AppRouter, appRouter, createContext } from "@loopy/api";
import { actorOfRequest } from "@loopy/api/http-auth";
import { createApiToken, createUser } from "@loopy/core/access";
import type { Bench } from "./context.ts";

export type BenchClient = Awaited<ReturnType<typeof startApi>>;

/** An admin's API token, the tRPC router on an HTTP server of its own, and a client with that token. */
export async function startApi(bench: Bench) {
  const { api, closers } = bench;
  const user = await createUser(api.db, { name: `bench-${randomBytes(3).toString("hex")}`, role: "admin" });
  const { token } = await createApiToken(api.db, { user: user.name, name: "bench", role: "admin" });
  const server = createHTTPServer({
    router: appRouter,
    basePath: "/api/trpc/",
    createContext: async ({ req }) => {
      const headers = new Headers();
      for (const [key, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(key, value);
      const { actor, csrfValid } = await actorOfRequest(api.db, { headers });
      return createContext(api, actor, csrfValid);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  closers.push(() => server.closeAllConnections());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/trpc`;
  // The CLI's client (packages/cli/src/client.ts): HTTP for queries, SSE through the eventsource package.
  const auth = { authorization: `Bearer ${token}` };
  const client = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({
          url,
          transformer: superjson,
          EventSource,
          eventSourceOptions: () => ({
            fetch: (input: string | URL, init?: RequestInit) =>
              fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...auth } }),
          }),
        }),
        false: httpLink({ url, transformer: superjson, headers: auth }),
      }),
    ],
  });
  return client;
}

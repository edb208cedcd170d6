import { createTRPCClient, httpLink, httpSubscriptionLink, splitLink, TRPCClientError } from "@trpc/client";
import { EventSource } from "eventsource";
import superjson from "superjson";
import type { AppRouter } from "@loopy/api";

export type LoopyClient = ReturnType<typeof createLoopyClient>;

/** A typed client for a running Loopy's API. */
export function createLoopyClient(baseUrl: string) {
  const url = `${baseUrl.replace(/\/$/, "")}/api/trpc`;
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({ url, transformer: superjson, EventSource }),
        false: httpLink({ url, transformer: superjson }),
      }),
    ],
  });
}

/** One line a user can act on, whatever went wrong. */
export function describeError(error: unknown, baseUrl: string): string {
  if (error instanceof TRPCClientError) {
    const cause = (error.cause ?? {}) as { code?: string; cause?: { code?: string } };
    const code = cause.code ?? cause.cause?.code;
    if (code === "ECONNREFUSED" || /fetch failed/i.test(error.message)) {
      return `cannot reach Loopy at ${baseUrl} (is it running? start it with "npm start", or set LOOPY_URL)`;
    }
    return error.message.split("\n")[0] ?? error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

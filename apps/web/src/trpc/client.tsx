"use client";

import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink, TRPCClientError } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import { useState, type ReactNode } from "react";
import superjson from "superjson";
import type { AppRouter } from "@loopy/api";
import type { inferRouterOutputs } from "@trpc/server";

const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();
export { useTRPC };
/** What each procedure returns, as the browser receives it. */
export type RouterOutputs = inferRouterOutputs<AppRouter>;

/** The CSRF token the server set next to the session cookie; every mutation sends it back in a header. */
function csrfHeader(): Record<string, string> {
  const match = /(?:^|;\s*)loopy_csrf=([^;]*)/.exec(document.cookie);
  return match?.[1] ? { "x-loopy-csrf": decodeURIComponent(match[1]) } : {};
}

/** A session that expired or was revoked sends the page to the sign-in form, and back afterwards. */
function signInAgainIfUnauthorized(error: unknown) {
  if (
    error instanceof TRPCClientError &&
    error.data?.code === "UNAUTHORIZED" &&
    window.location.pathname !== "/login"
  ) {
    window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`);
  }
}

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(
    () =>
      new QueryClient({
        queryCache: new QueryCache({ onError: signInAgainIfUnauthorized }),
        mutationCache: new MutationCache({ onError: signInAgainIfUnauthorized }),
        defaultOptions: { queries: { staleTime: 5_000, refetchOnWindowFocus: false } },
      }),
  );
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({
      links: [
        splitLink({
          condition: (op) => op.type === "subscription",
          true: httpSubscriptionLink({ url: "/api/trpc", transformer: superjson }),
          false: httpBatchLink({ url: "/api/trpc", transformer: superjson, headers: csrfHeader }),
        }),
      ],
    }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}

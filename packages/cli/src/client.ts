import { readFileSync } from "node:fs";
import path from "node:path";
import { createTRPCClient, httpLink, httpSubscriptionLink, splitLink, TRPCClientError } from "@trpc/client";
import { EventSource } from "eventsource";
import superjson from "superjson";
import type { AppRouter } from "@loopy/api";

export type LoopyClient = ReturnType<typeof createLoopyClient>;

/** The CLI's configuration is its environment: LOOPY_URL, LOOPY_TOKEN, LOOPY_HOME. */
function cliEnv(): NodeJS.ProcessEnv {
  // biome-ignore lint/style/noProcessEnv: a command-line tool is configured by the environment it is started in
  return process.env;
}

/** The Loopy the CLI talks to: LOOPY_URL, default http://127.0.0.1:3000. */
export function loopyUrl(env: NodeJS.ProcessEnv = cliEnv()): string {
  return env.LOOPY_URL || "http://127.0.0.1:3000";
}

/**
 * The API token the CLI presents: LOOPY_TOKEN, else the token file `npm start`
 * keeps in LOOPY_HOME (default ./.loopy). Null when there is none.
 */
function findToken(env: NodeJS.ProcessEnv = cliEnv()): { token: string; from: string } | null {
  if (env.LOOPY_TOKEN?.trim()) return { token: env.LOOPY_TOKEN.trim(), from: "LOOPY_TOKEN" };
  const file = path.resolve(env.LOOPY_HOME || ".loopy", "token");
  try {
    const token = readFileSync(file, "utf8").trim();
    return token ? { token, from: file } : null;
  } catch {
    return null;
  }
}

/** A typed client for a running Loopy's API, authenticated with an API token (Authorization: Bearer). */
export function createLoopyClient(baseUrl: string, token: string | null = findToken()?.token ?? null) {
  const url = `${baseUrl.replace(/\/$/, "")}/api/trpc`;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({
          url,
          transformer: superjson,
          EventSource,
          // The eventsource package lets a request carry headers through its fetch.
          eventSourceOptions: () => ({
            fetch: (input: string | URL, init?: RequestInit) =>
              fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }),
          }),
        }),
        false: httpLink({ url, transformer: superjson, headers }),
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
    if (error.data?.code === "UNAUTHORIZED") {
      return `${error.message.split("\n")[0]} (no valid token: set LOOPY_TOKEN, or run the CLI where LOOPY_HOME holds the token file npm start wrote)`;
    }
    return error.message.split("\n")[0] ?? error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

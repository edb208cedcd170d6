"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useRef } from "react";
import { useTRPC } from "~/trpc/client";

/**
 * Keeps run queries fresh from pushed changes: every change note refetches the
 * run lists (and that run), at most once per 250 ms however many runs change;
 * a resync (notes may have been missed) refetches every run query.
 */
export function useLiveRuns() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const pending = useRef<Set<string> | null>(null);
  useSubscription(
    trpc.runs.changes.subscriptionOptions(undefined, {
      onData: (change) => {
        if ("kind" in change) {
          void queryClient.invalidateQueries({ queryKey: trpc.runs.pathKey() });
          void queryClient.invalidateQueries({ queryKey: trpc.review.pathKey() });
          return;
        }
        if (pending.current) {
          pending.current.add(change.runId);
          return;
        }
        pending.current = new Set([change.runId]);
        setTimeout(() => {
          const ids = pending.current ?? new Set<string>();
          pending.current = null;
          void queryClient.invalidateQueries({ queryKey: trpc.runs.list.queryKey() });
          void queryClient.invalidateQueries({ queryKey: trpc.review.inbox.queryKey() });
          void queryClient.invalidateQueries({ queryKey: trpc.review.counts.queryKey() });
          for (const runId of ids) void queryClient.invalidateQueries({ queryKey: trpc.runs.get.queryKey({ runId }) });
        }, 250);
      },
    }),
  );
}

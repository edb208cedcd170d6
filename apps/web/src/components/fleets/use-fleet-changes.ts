"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useEffect, useRef } from "react";
import { useTRPC } from "~/trpc/client";

/** Refetches fleet queries when a fleet or any run changes (pushed), at most every 300 ms. */
export function useFleetChanges() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  useSubscription(
    trpc.fleets.changes.subscriptionOptions(undefined, {
      onData: () => {
        if (timer.current) return;
        timer.current = setTimeout(() => {
          timer.current = undefined;
          void queryClient.invalidateQueries({ queryKey: trpc.fleets.pathKey() });
        }, 300);
      },
    }),
  );
}

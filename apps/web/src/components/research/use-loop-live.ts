import { useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { useTRPC } from "~/trpc/client";
import { LIVE_LIMIT, type LivePoint } from "./live-series";

/** How often pushed points reach the charts. */
const LIVE_FLUSH_MS = 400;

/**
 * A loop's event stream: events refresh the loop, its experiments and the slots (at most every 150 ms);
 * metric points are batched into `live` (per experiment) a few times a second, and the running experiment's
 * log tail is refetched about once a second. `ready` turns true once the stream is set up (or after 1.5 s if
 * the loop has no stored event yet), so the charts' first fetch misses no point.
 */
export function useLoopLive(loopId: string, enabled: boolean) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [live, setLive] = useState<Record<string, LivePoint[]>>({});
  const [ready, setReady] = useState(false);
  const refetchTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const tailTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const flushTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const startedSeen = useRef(new Set<string>());
  const pending = useRef(new Map<string, LivePoint[]>());
  useEffect(
    () => () => {
      clearTimeout(refetchTimer.current);
      clearTimeout(tailTimer.current);
      clearTimeout(flushTimer.current);
    },
    [],
  );
  useEffect(() => {
    const t = setTimeout(() => setReady(true), 1500);
    return () => clearTimeout(t);
  }, []);

  const refetchLoop = useCallback(() => {
    if (refetchTimer.current) return;
    refetchTimer.current = setTimeout(() => {
      refetchTimer.current = undefined;
      void queryClient.invalidateQueries({ queryKey: trpc.research.get.queryKey({ loopId }) });
      void queryClient.invalidateQueries({ queryKey: trpc.research.experiments.queryKey({ loopId }) });
      void queryClient.invalidateQueries({ queryKey: trpc.research.slots.queryKey() });
    }, 150);
  }, [queryClient, trpc, loopId]);

  const refetchExperiment = (experimentId: string) =>
    queryClient.invalidateQueries({ queryKey: trpc.research.experiment.queryKey({ experimentId }) });

  // Points come in many small batches; the charts take them a few times a second, not per batch.
  const queuePoints = (experimentId: string, points: LivePoint[]) => {
    const waiting = pending.current;
    waiting.set(experimentId, [...(waiting.get(experimentId) ?? []), ...points]);
    if (flushTimer.current) return;
    flushTimer.current = setTimeout(() => {
      flushTimer.current = undefined;
      const batch = new Map(pending.current);
      pending.current.clear();
      setLive((prev) => {
        const next = { ...prev };
        for (const [id, points] of batch) {
          const merged = [...(next[id] ?? []), ...points];
          next[id] = merged.length > LIVE_LIMIT * 4 ? merged.slice(-LIVE_LIMIT * 4) : merged;
        }
        return next;
      });
    }, LIVE_FLUSH_MS);
  };

  // The log tail is stored about once a second while the experiment runs; follow it at that pace.
  const followTail = (experimentId: string) => {
    if (tailTimer.current) return;
    tailTimer.current = setTimeout(() => {
      tailTimer.current = undefined;
      void refetchExperiment(experimentId);
      // The first points mean the process started: the list learns its start time (for the budget bar).
      if (!startedSeen.current.has(experimentId)) {
        startedSeen.current.add(experimentId);
        refetchLoop();
      }
    }, 1000);
  };

  const stream = useSubscription(
    trpc.research.events.subscriptionOptions(
      { loopId },
      {
        enabled,
        onData: (tracked) => {
          setReady(true);
          const item = tracked.data;
          if (item.kind === "event") {
            refetchLoop();
            if (item.event.event.type === "experiment") void refetchExperiment(item.event.event.experimentId);
            return;
          }
          queuePoints(item.experimentId, item.points);
          followTail(item.experimentId);
        },
      },
    ),
  );
  return { live, ready, status: stream.status, refetchLoop };
}

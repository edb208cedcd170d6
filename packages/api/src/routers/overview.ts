import { z } from "zod";
import { overview } from "@loopy/core/live/overview";
import type { RunActivity, RunChange } from "@loopy/queue/event-bus";
import { AsyncQueue } from "../async-queue.ts";
import { subscribeAll } from "../live-stream.ts";
import { router, viewerProcedure } from "../trpc.ts";

/** One flush of the overview's live stream: the latest state and line of each run that changed since the last. */
export interface OverviewBatch {
  /** Server time of the flush (ms), so a client can measure how late updates arrive. */
  at: number;
  runs: Array<{ runId: string; status?: string; line?: string; lineAt?: string }>;
  /** Changes may have been missed (Redis reconnected, or is down): fetch the overview again. */
  resync?: true;
}

const FLUSH_MS = 500;

export const overviewRouter = router({
  /** Every active run with its latest activity, counts per state, queue depth and throughput. */
  get: viewerProcedure
    .input(z.object({ limit: z.number().int().min(1).max(5000).optional() }).optional())
    .query(async ({ ctx, input }) => {
      const [view, jobs] = await Promise.all([
        overview(ctx.services.db, input ?? {}),
        ctx.services.queue.getJobCounts("waiting", "prioritized", "delayed", "active"),
      ]);
      return {
        ...view,
        queue: {
          jobsWaiting: (jobs.waiting ?? 0) + (jobs.prioritized ?? 0) + (jobs.delayed ?? 0),
          jobsActive: jobs.active ?? 0,
        },
      };
    }),

  /**
   * Live changes for the overview, batched: state changes and activity lines
   * of every run are merged per run and sent at most every 500 ms, so 1,000
   * busy agents cost the browser two small messages a second, not thousands.
   * A batch with `resync: true` says changes may have been missed (Redis
   * reconnected, or is down): fetch the overview again.
   */
  live: viewerProcedure.subscription(async function* ({ ctx, signal }) {
    const { services } = ctx;
    type Note = { kind: "change"; change: RunChange } | { kind: "activity"; activity: RunActivity };
    const pending = new Map<string, OverviewBatch["runs"][number]>();
    let resync = false;
    const batches = new AsyncQueue<OverviewBatch>(signal);
    const entry = (runId: string) => {
      let e = pending.get(runId);
      if (!e) {
        e = { runId };
        pending.set(runId, e);
      }
      return e;
    };
    const leave = await subscribeAll<Note>(
      (push) => services.subscriptions.listenRunChanges(services.prefix, (change) => push({ kind: "change", change })),
      (push) =>
        services.subscriptions.listenActivity(services.prefix, (activity) => push({ kind: "activity", activity })),
    )((note) => {
      if (note.kind === "change") entry(note.change.runId).status = note.change.status;
      else {
        const e = entry(note.activity.runId);
        e.line = note.activity.line;
        e.lineAt = note.activity.at;
      }
    });
    // Notes missed while Redis was away never arrive: the next batch tells the client to fetch the overview again.
    const stopResyncs = services.subscriptions.onResync(() => {
      resync = true;
    });
    const timer = setInterval(() => {
      if (pending.size === 0 && !resync) return;
      batches.push({ at: Date.now(), runs: [...pending.values()], ...(resync ? { resync: true as const } : {}) });
      pending.clear();
      resync = false;
    }, FLUSH_MS);
    try {
      for await (const batch of batches) yield batch;
    } finally {
      clearInterval(timer);
      stopResyncs();
      await leave();
    }
  }),
});

import { z } from "zod";
import { overview } from "@loopy/core/overview";
import { AsyncQueue } from "../async-queue.ts";
import { router, viewerProcedure } from "../trpc.ts";

/** One flush of the overview's live stream: the latest state and line of each run that changed since the last. */
export interface OverviewBatch {
  /** Server time of the flush (ms), so a client can measure how late updates arrive. */
  at: number;
  runs: Array<{ runId: string; status?: string; line?: string; lineAt?: string }>;
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
   */
  live: viewerProcedure.subscription(async function* ({ ctx, signal }) {
    const { services } = ctx;
    const pending = new Map<string, OverviewBatch["runs"][number]>();
    const batches = new AsyncQueue<OverviewBatch>(signal);
    const entry = (runId: string) => {
      let e = pending.get(runId);
      if (!e) pending.set(runId, (e = { runId }));
      return e;
    };
    const leaveChanges = await services.subscriptions.listenRunChanges(services.prefix, (c) => {
      entry(c.runId).status = c.status;
    });
    const leaveActivity = await services.subscriptions.listenActivity(services.prefix, (a) => {
      const e = entry(a.runId);
      e.line = a.line;
      e.lineAt = a.at;
    });
    const timer = setInterval(() => {
      if (pending.size === 0) return;
      batches.push({ at: Date.now(), runs: [...pending.values()] });
      pending.clear();
    }, FLUSH_MS);
    try {
      for await (const batch of batches) yield batch;
    } finally {
      clearInterval(timer);
      await leaveChanges();
      await leaveActivity();
    }
  }),
});

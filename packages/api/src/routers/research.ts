import { tracked } from "@trpc/server";
import { z } from "zod";
import {
  agentRef,
  boundedJson,
  date,
  duration,
  gitRef,
  loopyId,
  projectRef,
  repoPath,
  serialId,
  smallInt,
  text,
} from "../inputs.ts";
import { findProject } from "@loopy/core/projects";
import {
  lastPointId,
  listLoopPoints,
  listResearchEvents,
  type StoredPoint,
  type StoredResearchEvent,
} from "@loopy/core/research/events";
import {
  cancelResearchLoop,
  pauseResearchLoop,
  resumeResearchLoop,
  createResearchLoop,
  exportResultsTsv,
  getExperiment,
  getLoop,
  getPoints,
  importResultsTsv,
  listExperiments,
  listLoops,
  slotUsage,
} from "@loopy/core/research/loops";
import {
  listenLoopChanges,
  listenResearchLoop,
  type LoopChange,
  type ResearchMessage,
} from "@loopy/queue/research-bus";
import { operatorProcedure, viewerProcedure, router } from "../trpc.ts";
import { AsyncQueue } from "../async-queue.ts";

const id = loopyId;
const loopId = z.object({ loopId: id });
const LOOP_STATUSES = ["queued", "running", "paused", "completed", "failed", "cancelled"] as const;

/** What research.events yields: a stored loop event, or new points of one experiment. */
export type ResearchStreamItem =
  | { kind: "event"; event: StoredResearchEvent }
  | { kind: "points"; experimentId: string; points: StoredPoint[] };

/** Consecutive points of the same experiment, as stream items. */
function byExperiment(points: StoredPoint[]): Array<{ experimentId: string; points: StoredPoint[] }> {
  const groups: Array<{ experimentId: string; points: StoredPoint[] }> = [];
  for (const p of points) {
    const last = groups.at(-1);
    if (last && last.experimentId === p.experimentId) last.points.push(p);
    else groups.push({ experimentId: p.experimentId, points: [p] });
  }
  return groups;
}

/** A research loop's settings (what `research.create` takes, and each member of a research fleet). */
export const researchLoopInput = z.object({
  project: projectRef,
  name: text(200).optional(),
  instructions: text(200_000).optional(),
  editable: z.array(repoPath(1000, "An editable glob")).max(200).optional(),
  protected: z.array(repoPath(1000, "A protected file")).max(500).optional(),
  command: text(100_000),
  metric: text(128),
  direction: z.enum(["min", "max"]),
  /** "5m", "90s", or seconds. */
  budget: duration,
  hardKillMultiple: z.number().optional(),
  maxExperiments: smallInt.optional(),
  wallClock: duration.optional(),
  costLimitUsd: z.number().optional(),
  optimizer: z.enum(["random", "tpe"]).optional(),
  /** A search space object (see packages/research-math/src/space.ts). */
  space: boundedJson().optional(),
  /** An agent profile's name or id. */
  agent: agentRef.optional(),
  paramsFile: repoPath(1000, "The params file").optional(),
  seed: smallInt.optional(),
  noiseRepeats: smallInt.optional(),
  confirmRuns: smallInt.optional(),
  slots: z.array(text(64)).max(256).optional(),
  baseRef: gitRef.optional(),
});

export const researchRouter = router({
  /** Starts a loop: validated, stored (queued), then queued for a worker under its own id. */
  create: operatorProcedure
    .input(researchLoopInput)
    .mutation(({ ctx, input }) => createResearchLoop(ctx.services, input)),

  /** Loops, newest first, with experiment counts by status. */
  list: viewerProcedure
    .input(
      z
        .object({
          project: projectRef.optional(),
          status: z.enum(LOOP_STATUSES).optional(),
          limit: z.number().int().min(1).max(500).optional(),
        })
        .optional(),
    )
    .query(async ({ ctx, input }) => {
      const projectId = input?.project ? (await findProject(ctx.services.db, input.project)).id : undefined;
      return listLoops(ctx.services.db, { projectId, status: input?.status, limit: input?.limit });
    }),

  get: viewerProcedure.input(loopId).query(({ ctx, input }) => getLoop(ctx.services.db, input.loopId)),

  cancel: operatorProcedure.input(loopId).mutation(({ ctx, input }) => cancelResearchLoop(ctx.services, input.loopId)),

  /** The experiment in progress finishes, then no new one starts until `resume`. */
  pause: operatorProcedure.input(loopId).mutation(({ ctx, input }) => pauseResearchLoop(ctx.services, input.loopId)),
  resume: operatorProcedure.input(loopId).mutation(({ ctx, input }) => resumeResearchLoop(ctx.services, input.loopId)),

  /** Every experiment of a loop in order, with its delta against the best and the running best. No diffs or logs. */
  experiments: viewerProcedure.input(loopId).query(({ ctx, input }) => listExperiments(ctx.services.db, input.loopId)),

  /** One experiment with its diff, per-file stats, summary metrics and log tail. */
  experiment: viewerProcedure
    .input(z.object({ experimentId: id }))
    .query(({ ctx, input }) => getExperiment(ctx.services.db, input.experimentId)),

  /**
   * An experiment's step series, min/max-downsampled to at most maxPoints each
   * (pass about twice the chart's width in pixels). `lastId` is where
   * research.events (sincePointId) or the next points call (sinceId) continues.
   */
  points: viewerProcedure
    .input(
      z.object({
        experimentId: id,
        name: text(128).optional(),
        sinceId: serialId.nullish(),
        maxPoints: z.number().int().min(2).max(20_000).optional(),
      }),
    )
    .query(({ ctx, input }) => getPoints(ctx.services.db, input)),

  /** The loop as autoresearch's results.tsv. */
  exportTsv: viewerProcedure.input(loopId).query(({ ctx, input }) => exportResultsTsv(ctx.services.db, input.loopId)),

  /** A results.tsv made outside Loopy, as a completed loop to chart. */
  importTsv: operatorProcedure
    .input(
      z.object({
        project: projectRef,
        tsv: text(20_000_000),
        name: text(200).optional(),
        direction: z.enum(["min", "max"]).optional(),
      }),
    )
    .mutation(({ ctx, input }) => importResultsTsv(ctx.services, input)),

  /** A project's slots, who holds each now, and every experiment's time on a slot (since `since`). */
  slots: viewerProcedure
    .input(z.object({ project: projectRef, since: date.optional() }))
    .query(({ ctx, input }) => slotUsage(ctx.services.db, input)),

  /**
   * A loop live: its stored events after the event part of `lastEventId`, then
   * new ones as they are stored; and step points after the point part (or after
   * `sincePointId`, the `lastId` of a points call; by default only points
   * stored from now on). Tracked ids are "<event id>-<point id>", so a
   * reconnecting client resumes both where it left off.
   */
  events: viewerProcedure
    .input(
      loopId.extend({
        lastEventId: z
          .string()
          .regex(/^\d{1,19}-\d{1,19}$/, "not a stream position")
          .nullish(),
        sincePointId: serialId.nullish(),
      }),
    )
    .subscription(async function* ({ ctx, input, signal }) {
      const { services } = ctx;
      await getLoop(services.db, input.loopId);
      const live = new AsyncQueue<ResearchMessage>(signal);
      const leave = await listenResearchLoop(services.subscriptions, services.prefix, input.loopId, (m) =>
        live.push(m),
      );
      try {
        let [eventCursor, pointCursor] = input.lastEventId
          ? (input.lastEventId.split("-") as [string, string])
          : ["0", input.sincePointId ?? (await lastPointId(services.db, input.loopId))];
        const cursor = () => `${eventCursor}-${pointCursor}`;
        for (;;) {
          const page = await listResearchEvents(
            services.db,
            input.loopId,
            eventCursor === "0" ? null : eventCursor,
            1000,
          );
          for (const event of page) {
            eventCursor = event.id;
            yield tracked(cursor(), { kind: "event", event } as ResearchStreamItem);
          }
          if (page.length < 1000) break;
        }
        for (;;) {
          const page = await listLoopPoints(services.db, input.loopId, pointCursor, 5000);
          for (const group of byExperiment(page)) {
            pointCursor = group.points.at(-1)!.id;
            yield tracked(cursor(), { kind: "points", ...group } as ResearchStreamItem);
          }
          if (page.length < 5000) break;
        }
        for await (const message of live) {
          if (message.kind === "events") {
            for (const event of message.events) {
              if (BigInt(event.id) <= BigInt(eventCursor)) continue;
              eventCursor = event.id;
              yield tracked(cursor(), { kind: "event", event } as ResearchStreamItem);
            }
          } else {
            const fresh = message.points.filter((p) => BigInt(p.id) > BigInt(pointCursor));
            if (fresh.length === 0) continue;
            pointCursor = fresh.at(-1)!.id;
            yield tracked(cursor(), {
              kind: "points",
              experimentId: message.experimentId,
              points: fresh,
            } as ResearchStreamItem);
          }
        }
      } finally {
        await leave();
      }
    }),

  /** A note whenever any loop changes state, so lists refresh without polling. */
  changes: viewerProcedure.subscription(async function* ({ ctx, signal }) {
    const { services } = ctx;
    const live = new AsyncQueue<LoopChange>(signal);
    const leave = await listenLoopChanges(services.subscriptions, services.prefix, (change) => live.push(change));
    try {
      for await (const change of live) yield change;
    } finally {
      await leave();
    }
  }),
});

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
} from "@loopy/core/research";
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
} from "@loopy/core/research";
import { RESYNC_SETTLE_MS } from "@loopy/queue/event-bus";
import { listenLoopChanges, listenResearchLoop, type LoopChange } from "@loopy/queue/research-bus";
import { operatorProcedure, viewerProcedure, router } from "../trpc.ts";
import { changesWithResync, replayThenLive } from "../live-stream.ts";

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
   * reconnecting client resumes both where it left off. Each once; a Redis
   * restart loses nothing (re-read from Postgres after a resync, see
   * ../live-stream.ts).
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
      const [eventsAfter, pointsAfter] = input.lastEventId
        ? (input.lastEventId.split("-") as [string, string])
        : ["0", input.sincePointId ?? null];
      let [eventCursor, pointCursor] = [eventsAfter, pointsAfter ?? "0"];
      const cursor = () => `${eventCursor}-${pointCursor}`;
      const sources = {
        events: {
          read: (after: string | null, limit: number) => listResearchEvents(services.db, input.loopId, after, limit),
          id: (event: StoredResearchEvent) => event.id,
          after: eventsAfter === "0" ? null : eventsAfter,
        },
        points: {
          read: (after: string | null, limit: number) => listLoopPoints(services.db, input.loopId, after, limit),
          id: (point: StoredPoint) => point.id,
          after: pointsAfter === "0" ? null : pointsAfter,
          pageSize: 5000,
        },
      };
      const stream = replayThenLive<{ events: StoredResearchEvent; points: StoredPoint }>({
        signal,
        sources,
        subscribe: (push) =>
          listenResearchLoop(services.subscriptions, services.prefix, input.loopId, (m) =>
            push(m.kind === "events" ? { source: "events", items: m.events } : { source: "points", items: m.points }),
          ),
        resyncs: services.subscriptions,
        settleMs: RESYNC_SETTLE_MS,
        // By default only points stored from now on (after subscribing, so none falls in between).
        ready: async () => {
          if (pointsAfter !== null) return;
          const last = await lastPointId(services.db, input.loopId);
          pointCursor = last;
          sources.points.after = last === "0" ? null : last;
        },
      });
      const later = (a: string, b: string) => (BigInt(a) > BigInt(b) ? a : b);
      for await (const batch of stream) {
        if (batch.source === "events") {
          for (const event of batch.items) {
            eventCursor = later(event.id, eventCursor);
            yield tracked(cursor(), { kind: "event", event } as ResearchStreamItem);
          }
        } else {
          for (const group of byExperiment(batch.items)) {
            pointCursor = later(group.points.at(-1)!.id, pointCursor);
            yield tracked(cursor(), { kind: "points", ...group } as ResearchStreamItem);
          }
        }
      }
    }),

  /**
   * A note whenever any loop changes state, so lists refresh without polling;
   * `{ kind: "resync" }` when notes may have been missed (Redis reconnected).
   */
  changes: viewerProcedure.subscription(async function* ({ ctx, signal }) {
    const { services } = ctx;
    yield* changesWithResync<LoopChange>({
      signal,
      subscribe: (push) => listenLoopChanges(services.subscriptions, services.prefix, push),
      resyncs: services.subscriptions,
    });
  }),
});

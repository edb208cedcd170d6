import { tracked } from "@trpc/server";
import { z } from "zod";
import {
  agentRef,
  boundedJson,
  duration,
  gitRef,
  loopyId,
  projectRef,
  repoPath,
  secretName,
  serialId,
  text,
} from "../inputs.ts";
import { parseDuration } from "@loopy/config/duration";
import { badInput } from "@loopy/core/errors";
import { RUN_STATUSES } from "@loopy/core/run-status";
import { cancelRun, getRun, getRunDiff, launchRun, listRuns } from "@loopy/core/runs";
import { listRunEvents, type StoredRunEvent } from "@loopy/core/run-events";
import { fileLines, listCheckpointResults, listTurns, turnDiff } from "@loopy/core/review";
import { RESYNC_SETTLE_MS, type RunChange } from "@loopy/queue/event-bus";
import { operatorProcedure, viewerProcedure, router } from "../trpc.ts";
import { AsyncQueue } from "../async-queue.ts";

const runId = z.object({ runId: loopyId });
/** Marks the point in a live stream where it must re-read from Postgres (the subscriber reconnected). */
const RESYNC = Symbol("resync");

function toTimeoutMs(timeout: string | number | undefined): number | undefined {
  if (timeout === undefined || timeout === "") return undefined;
  try {
    return parseDuration(timeout);
  } catch (error) {
    throw badInput((error as Error).message);
  }
}

export const runsRouter = router({
  list: viewerProcedure
    .input(
      z
        .object({
          projectId: loopyId.optional(),
          status: z.enum(RUN_STATUSES).optional(),
          limit: z.number().int().min(1).max(500).optional(),
          cursor: loopyId.optional(),
        })
        .optional(),
    )
    .query(({ ctx, input }) => listRuns(ctx.services.db, input)),

  get: viewerProcedure.input(runId).query(({ ctx, input }) => getRun(ctx.services.db, input.runId)),

  diff: viewerProcedure.input(runId).query(({ ctx, input }) => getRunDiff(ctx.services.db, input.runId)),

  launch: operatorProcedure
    .input(
      z.object({
        project: projectRef,
        /** An adapter (command, claude-code, openai-compatible) or an agent profile's name; when omitted the project's routing rules pick it from `tags` (else command). */
        agent: agentRef.optional(),
        tags: z.array(text(64)).max(20).optional(),
        command: text(100_000).optional(),
        prompt: text(200_000).optional(),
        checkpoints: z.array(boundedJson()).max(100).optional(),
        baseRef: gitRef.optional(),
        /** A duration such as "30s" or "5m", or seconds. */
        timeout: duration.optional(),
        title: text(200).optional(),
        /** Stored secrets the agent needs besides its profile's (names; injected into its environment only). */
        secrets: z.array(secretName).max(20).optional(),
      }),
    )
    .mutation(({ ctx, input }) => launchRun(ctx.services, { ...input, timeoutMs: toTimeoutMs(input.timeout) })),

  /** A page of a run's stored events, oldest first (for `loopy logs` without --follow). */
  eventLog: viewerProcedure
    .input(runId.extend({ afterId: serialId.nullish(), limit: z.number().int().min(1).max(5000).default(1000) }))
    .query(async ({ ctx, input }) => {
      await getRun(ctx.services.db, input.runId);
      return listRunEvents(ctx.services.db, input.runId, input.afterId, input.limit);
    }),

  /** The run's turns: first prompt, checkpoint feedback, review feedback. */
  turns: viewerProcedure.input(runId).query(({ ctx, input }) => listTurns(ctx.services.db, input.runId)),

  /** The change a single turn made (HEAD before and after it). */
  turnDiff: viewerProcedure
    .input(runId.extend({ turnIndex: z.number().int().min(0).max(100_000) }))
    .query(({ ctx, input }) => turnDiff(ctx.services.db, input.runId, input.turnIndex)),

  /** Lines of a file at one of the run's commits: the diff viewer's "expand unchanged lines". */
  fileLines: viewerProcedure
    .input(
      runId.extend({
        commit: z.string().regex(/^[0-9a-f]{40}$/, "a full commit sha"),
        path: repoPath(4096, "The file"),
        start: z.number().int().min(1).max(100_000_000),
        end: z.number().int().min(1).max(100_000_000),
      }),
    )
    .query(({ ctx, input }) => fileLines(ctx.services.db, input)),

  /** Every checkpoint result of every turn. */
  checks: viewerProcedure.input(runId).query(({ ctx, input }) => listCheckpointResults(ctx.services.db, input.runId)),

  cancel: operatorProcedure.input(runId).mutation(({ ctx, input }) => cancelRun(ctx.services, input.runId)),

  /**
   * A run's events: every stored event after `lastEventId`, then live ones as
   * they are stored. Subscribes before replaying, so nothing falls between the
   * two; ids already sent are skipped. Reconnecting clients resume from the
   * last id they saw (tRPC's SSE link sends it). When this server's Redis
   * subscriber reconnects (and every second while it is down) it re-reads
   * from Postgres after the last id it sent, so a Redis restart loses nothing.
   */
  events: viewerProcedure.input(runId.extend({ lastEventId: serialId.nullish() })).subscription(async function* ({
    ctx,
    input,
    signal,
  }) {
    const { services } = ctx;
    await getRun(services.db, input.runId);
    const live = new AsyncQueue<StoredRunEvent | typeof RESYNC>(signal);
    const leave = await services.subscriptions.listenRunEvents(services.prefix, input.runId, (events) =>
      live.push(...events),
    );
    // Redis lost the connection: what was published meanwhile never arrives; read it from Postgres.
    const stopResync = services.subscriptions.onResync(() => live.push(RESYNC));
    const sent = new Set<string>();
    let after = input.lastEventId ?? null;
    const stored = async function* () {
      for (;;) {
        const page = await listRunEvents(services.db, input.runId, after, 1000);
        for (const event of page) {
          after = event.id;
          if (sent.has(event.id)) continue;
          sent.add(event.id);
          yield tracked(event.id, event);
        }
        if (page.length < 1000) break;
      }
    };
    // Shortly after a re-read, a live event may follow events whose publish was lost (the worker's
    // publisher reconnects after this subscriber): then read from Postgres, in order, up to it.
    let settleUntil = 0;
    try {
      yield* stored();
      for await (const item of live) {
        if (item === RESYNC) {
          settleUntil = Date.now() + RESYNC_SETTLE_MS;
          yield* stored();
          continue;
        }
        if (sent.has(item.id)) continue;
        if (Date.now() < settleUntil) {
          yield* stored();
          continue;
        }
        sent.add(item.id);
        if (BigInt(item.id) > BigInt(after ?? "0")) after = item.id;
        yield tracked(item.id, item);
      }
    } finally {
      stopResync();
      await leave();
    }
  }),

  /** Pushes a note whenever any run changes state, so lists can refresh without polling. */
  changes: viewerProcedure.subscription(async function* ({ ctx, signal }) {
    const { services } = ctx;
    const live = new AsyncQueue<RunChange>(signal);
    const leave = await services.subscriptions.listenRunChanges(services.prefix, (change) => live.push(change));
    try {
      for await (const change of live) yield change;
    } finally {
      await leave();
    }
  }),
});

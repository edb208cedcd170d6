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
import { badInput } from "@loopy/core/shared";
import { RUN_STATUSES } from "@loopy/core/runs";
import { cancelRun, getRun, getRunDiff, launchRun, listRuns } from "@loopy/core/runs";
import { listRunEvents, type StoredRunEvent } from "@loopy/core/live";
import { fileLines, listCheckpointResults, listTurns, turnDiff } from "@loopy/core/review";
import { RESYNC_SETTLE_MS, type RunChange } from "@loopy/queue/event-bus";
import { operatorProcedure, viewerProcedure, router } from "../trpc.ts";
import { changesWithResync, replayThenLive } from "../live-stream.ts";

const runId = z.object({ runId: loopyId });

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
   * they are stored, each once (see ../live-stream.ts: subscribed before the
   * replay; after this server's Redis subscriber reconnects, and every second
   * while it is down, re-read from Postgres, so a Redis restart loses nothing).
   * Reconnecting clients resume from the last id they saw (tRPC's SSE link
   * sends it).
   */
  events: viewerProcedure.input(runId.extend({ lastEventId: serialId.nullish() })).subscription(async function* ({
    ctx,
    input,
    signal,
  }) {
    const { services } = ctx;
    await getRun(services.db, input.runId);
    let position = input.lastEventId ?? "0";
    const stream = replayThenLive<{ events: StoredRunEvent }>({
      signal,
      sources: {
        events: {
          read: (after, limit) => listRunEvents(services.db, input.runId, after, limit),
          id: (event) => event.id,
          after: input.lastEventId ?? null,
        },
      },
      subscribe: (push) =>
        services.subscriptions.listenRunEvents(services.prefix, input.runId, (events) =>
          push({ source: "events", items: events }),
        ),
      resyncs: services.subscriptions,
      settleMs: RESYNC_SETTLE_MS,
    });
    for await (const batch of stream) {
      for (const event of batch.items) {
        // The stream's position: the highest id sent (an event committed late may follow a higher one).
        if (BigInt(event.id) > BigInt(position)) position = event.id;
        yield tracked(position, event);
      }
    }
  }),

  /**
   * Pushes a note whenever any run changes state, so lists can refresh without
   * polling; `{ kind: "resync" }` when notes may have been missed (Redis
   * reconnected): refetch everything.
   */
  changes: viewerProcedure.subscription(async function* ({ ctx, signal }) {
    const { services } = ctx;
    yield* changesWithResync<RunChange>({
      signal,
      subscribe: (push) => services.subscriptions.listenRunChanges(services.prefix, push),
      resyncs: services.subscriptions,
    });
  }),
});

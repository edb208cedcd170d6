import { z } from "zod";
import { loopyId, repoPath, text } from "../inputs.ts";
import {
  addComment,
  approveRun,
  deleteComment,
  listComments,
  listInbox,
  rejectRun,
  requestChanges,
  reviewCounts,
} from "@loopy/core/review";
import { reviewerProcedure, viewerProcedure, router } from "../trpc.ts";

const runId = z.object({ runId: loopyId });
const comment = z.object({
  path: repoPath(4096, "A comment's file"),
  line: z.number().int().min(0).max(10_000_000),
  body: text(20_000),
});

export const reviewRouter = router({
  /** Runs waiting for a human, best first. */
  inbox: viewerProcedure.query(({ ctx }) => listInbox(ctx.services.db)),
  counts: viewerProcedure.query(({ ctx }) => reviewCounts(ctx.services.db)),
  comments: viewerProcedure.input(runId).query(({ ctx, input }) => listComments(ctx.services.db, input.runId)),
  addComment: reviewerProcedure
    .input(runId.extend(comment.shape))
    .mutation(({ ctx, input }) => addComment(ctx.services, input.runId, input)),
  deleteComment: reviewerProcedure
    .input(z.object({ commentId: loopyId }))
    .mutation(({ ctx, input }) => deleteComment(ctx.services, input.commentId)),
  requestChanges: reviewerProcedure
    .input(runId.extend({ message: text(20_000).optional(), comments: z.array(comment).max(200).optional() }))
    .mutation(({ ctx, input }) => requestChanges(ctx.services, input.runId, input)),
  /**
   * Merges the run. Refused (CONFLICT, with the count) while comments are not sent yet, unless
   * `pendingComments: "discard"`; the audit entry keeps that choice.
   */
  approve: reviewerProcedure
    .input(runId.extend({ pendingComments: z.enum(["refuse", "discard"]).optional() }))
    .mutation(({ ctx, input }) =>
      approveRun(ctx.services, input.runId, {
        pendingComments: input.pendingComments,
        approver: { name: ctx.actor.name },
      }),
    ),
  reject: reviewerProcedure
    .input(runId.extend({ reason: text(2000).optional() }))
    .mutation(({ ctx, input }) => rejectRun(ctx.services, input.runId, input.reason)),
});

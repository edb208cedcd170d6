import { z } from "zod";
import { addComment, approveRun, deleteComment, listComments, listInbox, rejectRun, requestChanges, reviewCounts } from "@loopy/core/review";
import { publicProcedure, router } from "../trpc.ts";

const runId = z.object({ runId: z.string().min(1).max(64) });
const comment = z.object({ path: z.string().min(1).max(4096), line: z.number().int(), body: z.string().max(20_000) });

export const reviewRouter = router({
  /** Runs waiting for a human, best first. */
  inbox: publicProcedure.query(({ ctx }) => listInbox(ctx.services.db)),
  counts: publicProcedure.query(({ ctx }) => reviewCounts(ctx.services.db)),
  comments: publicProcedure.input(runId).query(({ ctx, input }) => listComments(ctx.services.db, input.runId)),
  addComment: publicProcedure.input(runId.extend(comment.shape)).mutation(({ ctx, input }) => addComment(ctx.services, input.runId, input)),
  deleteComment: publicProcedure.input(z.object({ commentId: z.string() })).mutation(({ ctx, input }) => deleteComment(ctx.services, input.commentId)),
  requestChanges: publicProcedure
    .input(runId.extend({ message: z.string().max(20_000).optional(), comments: z.array(comment).max(200).optional() }))
    .mutation(({ ctx, input }) => requestChanges(ctx.services, input.runId, input)),
  approve: publicProcedure.input(runId).mutation(({ ctx, input }) => approveRun(ctx.services, input.runId)),
  reject: publicProcedure.input(runId.extend({ reason: z.string().max(2000).optional() })).mutation(({ ctx, input }) => rejectRun(ctx.services, input.runId, input.reason)),
});

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useState } from "react";
import { useTRPC } from "~/trpc/client";

/**
 * A run's review comments, and the one comment box: where it is open, its draft (kept here, so a box
 * scrolled out of the virtualised list and back keeps what was typed), adding and deleting.
 */
export function useDiffComments(runId: string) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const comments = useQuery(trpc.review.comments.queryOptions({ runId }));
  const [composer, setComposer] = useState<{ path: string; line: number } | null>(null);
  const [draft, setDraft] = useState("");
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.review.comments.queryKey({ runId }) });
  const add = useMutation(
    trpc.review.addComment.mutationOptions({
      onSuccess: async () => {
        setComposer(null);
        setDraft("");
        await refresh();
      },
    }),
  );
  const remove = useMutation(trpc.review.deleteComment.mutationOptions({ onSuccess: refresh }));
  const openComposer = useCallback((path: string, line: number) => {
    setComposer({ path, line });
    setDraft("");
  }, []);
  const closeComposer = useCallback(() => setComposer(null), []);
  const submit = (path: string, line: number) => add.mutate({ runId, path, line, body: draft });
  return {
    comments: comments.data,
    composer,
    draft,
    setDraft,
    openComposer,
    closeComposer,
    submit,
    addError: add.error?.message,
    remove: remove.mutate,
  };
}

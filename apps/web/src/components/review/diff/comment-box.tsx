import { useEffect, useRef } from "react";
import { Button } from "~/components/ui/button";
import { ErrorNote } from "~/components/ui/field";
import type { Comment } from "./use-diff-rows";

/** The comment box under a line: Ctrl/⌘+Enter adds, Escape closes. It takes focus when it opens. */
export function CommentBox({
  path,
  line,
  draft,
  onDraft,
  onSubmit,
  onCancel,
  error,
}: {
  path: string;
  line: number;
  draft: string;
  onDraft: (text: string) => void;
  onSubmit: () => void;
  onCancel: () => void;
  error: string | undefined;
}) {
  const box = useRef<HTMLTextAreaElement>(null);
  useEffect(() => box.current?.focus(), []);
  return (
    <div className="border-x border-white/10 px-3 py-2">
      <form
        className="space-y-2"
        onSubmit={(e) => {
          e.preventDefault();
          onSubmit();
        }}
      >
        <textarea
          ref={box}
          aria-label="Comment"
          value={draft}
          onChange={(e) => onDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Escape") onCancel();
            if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) onSubmit();
          }}
          className="min-h-20 w-full rounded-md border border-white/10 bg-black/40 p-2 text-sm text-gray-100"
          placeholder={`Comment on ${path}:${line}`}
        />
        <ErrorNote message={error} />
        <div className="flex gap-2">
          <Button type="submit" tone="attention" size="sm">
            Add comment
          </Button>
          <button type="button" className="px-2 text-xs text-gray-400" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
    </div>
  );
}

function stateOf(c: Comment) {
  return c.status === "resolved" ? "resolved" : c.status === "sent" ? "sent to the agent" : "pending";
}

/** Comments under their line (or, with a note, those whose line is not in the diff any more). */
export function CommentList({
  comments,
  note,
  onDelete,
}: {
  comments: Comment[];
  note?: string;
  onDelete: (input: { commentId: string }) => void;
}) {
  return (
    <div className="space-y-1.5 border-x border-white/10 px-3 py-1.5">
      {note && <p className="text-xs text-amber-300/70">{note}</p>}
      {comments.map((c) => (
        <div
          key={c.id}
          data-testid="review-comment"
          data-status={c.status}
          className="rounded-md border border-amber-400/30 bg-amber-500/5 px-3 py-2 text-sm text-amber-100"
        >
          <div className="mb-1 flex items-center justify-between text-xs text-amber-300/80">
            <span>
              {note ? `line ${c.line} · ` : ""}comment · {stateOf(c)}
            </span>
            {c.status === "pending" && (
              <button type="button" className="hover:text-red-300" onClick={() => onDelete({ commentId: c.id })}>
                delete
              </button>
            )}
          </div>
          <p className="whitespace-pre-wrap">{c.body}</p>
        </div>
      ))}
    </div>
  );
}

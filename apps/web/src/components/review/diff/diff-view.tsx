"use client";

import type { FileChange } from "@loopy/core/shared";
import { useQuery } from "@tanstack/react-query";
import { forwardRef, type ReactNode, useCallback, useImperativeHandle, useMemo, useState } from "react";
import { ErrorNote } from "~/components/ui/field";
import { Panel } from "~/components/ui/panel";
import { useTRPC } from "~/trpc/client";
import { CommentBox } from "./comment-box";
import { toggled } from "./diff-lines";
import { useRowRenderer } from "./diff-row";
import { DiffToolbar } from "./diff-toolbar";
import { FileTree } from "./file-tree";
import { useDiffComments } from "./use-diff-comments";
import { useDiffNavigation } from "./use-diff-navigation";
import { type DiffRows, type Row, useDiffRows } from "./use-diff-rows";
import { useExpandedContext } from "./use-expanded-context";
import { useSplitPreference } from "./use-split-preference";

export interface DiffViewHandle {
  /** Moves to the next (1) or previous (−1) file, in the tree's order. */
  stepFile(step: number): void;
  /** Opens the comment box on the first commentable line of the current file. */
  commentOnCurrentFile(): void;
}

/** The whole run's diff, or one turn's. */
function useScopedDiff(runId: string) {
  const trpc = useTRPC();
  const whole = useQuery(trpc.runs.diff.queryOptions({ runId }));
  const turns = useQuery(trpc.runs.turns.queryOptions({ runId }));
  const [scope, setScope] = useState<number | "run">("run");
  const perTurn = useQuery({
    ...trpc.runs.turnDiff.queryOptions({ runId, turnIndex: scope === "run" ? 0 : scope }),
    enabled: scope !== "run",
  });
  const finishedTurns = (turns.data ?? []).filter((t) => t.headSha).map((t) => t.index);
  return { diff: (scope === "run" ? whole : perTurn).data, scope, setScope, finishedTurns };
}

/**
 * The run's diff: a tree of changed files beside the diff itself, unified or
 * split, syntax-highlighted, with unchanged lines collapsed behind "expand"
 * rows. Rows are virtualised (only what is on screen is in the DOM), so a
 * 5,000-line diff opens and scrolls like a small one. When the run is
 * reviewable, clicking a new-side line number opens a comment box; comments show
 * under their line with their state.
 */
export const DiffView = forwardRef<DiffViewHandle, { runId: string; status: string }>(function DiffView(
  { runId, status },
  ref,
) {
  const { diff, scope, setScope, finishedTurns } = useScopedDiff(runId);
  // Comments attach to the whole run's diff (new-side lines of its latest version).
  const reviewable = (status === "awaiting_review" || status === "needs_attention") && scope === "run";
  const [split, setSplit] = useSplitPreference();
  const review = useDiffComments(runId);
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());
  const context = useExpandedContext(runId, diff?.to ?? null);
  const stats = (diff?.diffStats ?? []) as FileChange[];
  const statsByPath = useMemo(() => new Map(stats.map((f) => [f.path, f])), [stats]);
  const model = useDiffRows({
    diff: diff?.diff ?? "",
    comments: review.comments,
    split,
    collapsed,
    expanded: context.expanded,
    composer: reviewable ? review.composer : null,
    showComments: scope === "run",
  });
  const { patches, rows } = model;
  const nav = useDiffNavigation(model);
  const onToggle = useCallback((path: string) => setCollapsed((prev) => toggled(prev, path)), []);
  const renderRow = useRowRenderer(
    {
      patches,
      statsByPath,
      collapsed,
      reviewable,
      onToggle,
      onComment: review.openComposer,
      onExpand: context.expand,
      onDelete: review.remove,
    },
    (row) => (
      <CommentBox
        path={patches[row.file]!.path}
        line={row.line}
        draft={review.draft}
        onDraft={review.setDraft}
        onSubmit={() => review.submit(patches[row.file]!.path, row.line)}
        onCancel={review.closeComposer}
        error={review.addError}
      />
    ),
  );

  useImperativeHandle(ref, () => ({
    stepFile: nav.stepFile,
    commentOnCurrentFile() {
      if (!reviewable) return;
      const file = nav.currentFile;
      const patch = patches[file];
      const line =
        patch?.lines.find((l) => l.kind === "add")?.newLine ??
        patch?.lines.find((l) => l.newLine !== undefined)?.newLine;
      if (!patch || line === undefined) return;
      review.openComposer(patch.path, line);
      const index = rows.findIndex((r) => r.t === "line" && r.file === file && r.line.newLine === line);
      if (index >= 0) nav.virtualizer.scrollToIndex(index, { align: "center" });
    },
  }));

  const toolbar = (
    <DiffToolbar
      turns={finishedTurns}
      scope={scope}
      onScope={setScope}
      split={split}
      onSplit={setSplit}
      files={stats.length}
      additions={stats.reduce((n, f) => n + f.additions, 0)}
      deletions={stats.reduce((n, f) => n + f.deletions, 0)}
    />
  );
  if (!diff || diff.diff === null) {
    const waiting = status === "queued" || status === "running";
    return (
      <Panel title="Diff">
        <p className="text-sm text-gray-500">
          {waiting ? "The diff appears when the turn ends." : "No diff was recorded."}
        </p>
      </Panel>
    );
  }
  if (stats.length === 0) {
    return (
      <Panel title="Diff" actions={toolbar}>
        <p className="text-sm text-gray-400">
          {scope === "run" ? "The run changed no files." : "This turn changed no files."}
        </p>
      </Panel>
    );
  }

  return (
    <Panel title="Diff" actions={toolbar}>
      {reviewable && (
        <p className="mb-2 text-xs text-gray-500">
          Click a line number to comment on it; comments go to the agent with “Request changes”.
        </p>
      )}
      <ErrorNote message={context.error} />
      <DiffBody nav={nav} model={model} statsByPath={statsByPath} renderRow={renderRow} />
    </Panel>
  );
});

/** The file tree beside the virtualised rows. */
function DiffBody({
  nav,
  model,
  statsByPath,
  renderRow,
}: {
  nav: ReturnType<typeof useDiffNavigation>;
  model: DiffRows;
  statsByPath: Map<string, FileChange>;
  renderRow: (row: Row) => ReactNode;
}) {
  const { virtualizer, currentFile } = nav;
  const { rows, patches } = model;
  return (
    <div className="flex gap-3" data-testid="diff">
      <nav
        ref={nav.fileTree}
        aria-label="Changed files"
        data-testid="diff-files"
        className="hidden max-h-[75vh] w-64 shrink-0 overflow-auto rounded-md border border-white/10 py-1 text-xs md:block"
      >
        <FileTree
          nodes={model.tree}
          depth={0}
          current={currentFile}
          stats={statsByPath}
          patches={patches}
          onPick={nav.goToFile}
        />
      </nav>
      <div
        ref={nav.scroller}
        data-testid="diff-scroller"
        onWheel={nav.unpin}
        onTouchMove={nav.unpin}
        onPointerDown={nav.unpin}
        className="max-h-[75vh] min-w-0 flex-1 overflow-auto"
        style={{ height: Math.min(virtualizer.getTotalSize() + 2, 4000) }}
      >
        <div className="hl relative w-full" style={{ height: virtualizer.getTotalSize() }}>
          {nav.items.map((item) => {
            const row = rows[item.index]!;
            const current = row.t === "file" && row.file === currentFile;
            return (
              <div
                key={item.key}
                data-index={item.index}
                data-current={current ? "true" : undefined}
                ref={virtualizer.measureElement}
                className={`absolute left-0 top-0 w-full scroll-mt-4 ${current ? "[&>div]:border-sky-400/70 [&>div]:bg-sky-500/15" : ""}`}
                style={{ transform: `translateY(${item.start}px)` }}
              >
                {renderRow(row)}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

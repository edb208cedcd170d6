import type { FileChange } from "@loopy/core/shared";
import { type ReactNode, useMemo } from "react";
import { CommentList } from "./comment-box";
import { SplitLine, UnifiedLine } from "./diff-line";
import { type FilePatch, type Gap, languageFor } from "./diff-lines";
import { ChangeCount } from "./file-tree";
import { EXPAND_STEP } from "./use-expanded-context";
import type { Row } from "./use-diff-rows";

/** A file's header in the list: collapse toggle, path (old → new when renamed), changed lines. */
function FileHeader({
  path,
  stat,
  collapsed,
  onToggle,
}: {
  path: string;
  stat: FileChange | undefined;
  collapsed: boolean;
  onToggle: (path: string) => void;
}) {
  return (
    <div
      data-testid="diff-file"
      className="mt-3 flex items-center gap-3 rounded-t-md border border-white/10 bg-surface-raised px-3 py-1.5 font-mono text-xs text-gray-200 first:mt-0"
    >
      <button
        type="button"
        aria-expanded={!collapsed}
        aria-label={`${collapsed ? "Expand" : "Collapse"} ${path}`}
        className="w-4 text-gray-500 hover:text-gray-200"
        onClick={() => onToggle(path)}
      >
        {collapsed ? "▸" : "▾"}
      </button>
      <span className="flex-1 truncate">
        {stat?.oldPath ? `${stat.oldPath} → ` : ""}
        {path}
      </span>
      {stat && !stat.binary && (
        <span>
          <ChangeCount additions={stat.additions} deletions={stat.deletions} />
        </span>
      )}
    </div>
  );
}

/** Unchanged lines not shown: a button that fetches the next EXPAND_STEP of them. */
function GapRow({ hidden, onExpand }: { hidden: number | null; onExpand: () => void }) {
  return (
    <div className="border-x border-white/10 bg-sky-500/[0.04] px-3 py-1 text-xs">
      <button
        type="button"
        data-testid="expand-context"
        className="text-sky-300/80 hover:text-sky-200 hover:underline"
        onClick={onExpand}
      >
        {hidden === null
          ? "↓ Show unchanged lines below"
          : `↕ Show ${Math.min(hidden, EXPAND_STEP)}${hidden > EXPAND_STEP ? ` of ${hidden}` : ""} unchanged line${hidden === 1 ? "" : "s"}`}
      </button>
    </div>
  );
}

export interface RowContext {
  patches: FilePatch[];
  statsByPath: Map<string, FileChange>;
  collapsed: ReadonlySet<string>;
  reviewable: boolean;
  onToggle: (path: string) => void;
  onComment: (path: string, line: number) => void;
  onExpand: (patch: FilePatch, gap: Gap) => Promise<void>;
  onDelete: (input: { commentId: string }) => void;
}

/** The element of one row, except the comment box (which the caller renders, since its draft changes). */
function renderRow(row: Exclude<Row, { t: "composer" }>, ctx: RowContext): ReactNode {
  const patch = ctx.patches[row.file]!;
  const line = { path: patch.path, language: languageFor(patch.path), ...ctx };
  switch (row.t) {
    case "file":
      return (
        <FileHeader
          path={patch.path}
          stat={ctx.statsByPath.get(patch.path)}
          collapsed={ctx.collapsed.has(patch.path)}
          onToggle={ctx.onToggle}
        />
      );
    case "note":
      return (
        <div data-testid="diff-file-note" className="border-x border-white/10 px-3 py-1.5 text-xs italic text-gray-400">
          {row.text}
        </div>
      );
    case "line":
      return <UnifiedLine line={row.line} {...line} />;
    case "split":
      return <SplitLine row={row.row} {...line} />;
    case "gap":
      return <GapRow hidden={row.hidden} onExpand={() => void ctx.onExpand(patch, row.gap)} />;
    case "comments":
      return <CommentList comments={row.comments} note={row.note} onDelete={ctx.onDelete} />;
  }
}

/**
 * Scrolling re-renders the list every frame; a row that stays on screen keeps its element, so React skips it.
 * The cache is per row object (rows are rebuilt when what they show changes) and per context.
 */
export function useRowRenderer(ctx: RowContext, renderComposer: (row: Extract<Row, { t: "composer" }>) => ReactNode) {
  const { patches, statsByPath, collapsed, reviewable, onToggle, onComment, onExpand, onDelete } = ctx;
  const cached = useMemo(() => {
    const context = { patches, statsByPath, collapsed, reviewable, onToggle, onComment, onExpand, onDelete };
    const cache = new WeakMap<Row, ReactNode>();
    return (row: Exclude<Row, { t: "composer" }>) => {
      let element = cache.get(row);
      if (element === undefined) {
        element = renderRow(row, context);
        cache.set(row, element);
      }
      return element;
    };
  }, [patches, statsByPath, collapsed, reviewable, onToggle, onComment, onExpand, onDelete]);
  return (row: Row): ReactNode => (row.t === "composer" ? renderComposer(row) : cached(row));
}

"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import {
  forwardRef,
  memo,
  useCallback,
  useEffect,
  useImperativeHandle,
  useMemo,
  useRef,
  useState,
  type ReactNode,
} from "react";
import type { FileChange } from "@loopy/core/diff";
import { useTRPC } from "~/trpc/client";
import {
  buildFileTree,
  languageFor,
  LINE_STYLE,
  parsePatch,
  toggled,
  toSplitRows,
  treeOrder,
  type DiffLine,
  type FilePatch,
  type Gap,
  type SplitRow,
  type TreeNode,
} from "./diff-lines";
import { highlightLine } from "~/components/shared/highlight";
import { ErrorNote, Panel } from "~/components/ui/field";

const STATUS_LETTER: Record<FileChange["status"], string> = {
  added: "A",
  modified: "M",
  deleted: "D",
  renamed: "R",
  copied: "C",
  type_changed: "T",
};

/** Unchanged lines fetched per click on "expand". */
const EXPAND_STEP = 100;

interface Comment {
  id: string;
  path: string;
  line: number;
  body: string;
  status: string;
}

type Row =
  | { t: "file"; file: number }
  | { t: "note"; file: number; text: string }
  | { t: "line"; file: number; line: DiffLine }
  | { t: "split"; file: number; row: SplitRow }
  | { t: "gap"; file: number; gap: Gap; hidden: number | null }
  | { t: "comments"; file: number; comments: Comment[]; note?: string }
  | { t: "composer"; file: number; line: number };

const ESTIMATE: Record<Row["t"], number> = {
  file: 34,
  note: 28,
  line: 20,
  split: 20,
  gap: 26,
  comments: 84,
  composer: 150,
};

export interface DiffViewHandle {
  /** Moves to the next (1) or previous (−1) file, in the tree's order. */
  stepFile(step: number): void;
  /** Opens the comment box on the first commentable line of the current file. */
  commentOnCurrentFile(): void;
}

const gapKey = (path: string, gap: Gap) => `${path}@${gap.start}`;

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
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const whole = useQuery(trpc.runs.diff.queryOptions({ runId }));
  const turns = useQuery(trpc.runs.turns.queryOptions({ runId }));
  const [scope, setScope] = useState<number | "run">("run");
  const perTurn = useQuery({
    ...trpc.runs.turnDiff.queryOptions({ runId, turnIndex: scope === "run" ? 0 : scope }),
    enabled: scope !== "run",
  });
  const diff = scope === "run" ? whole : perTurn;
  const comments = useQuery(trpc.review.comments.queryOptions({ runId }));
  // Comments attach to the whole run's diff (new-side lines of its latest version).
  const reviewable = (status === "awaiting_review" || status === "needs_attention") && scope === "run";
  const [split, setSplit] = useSplitPreference();
  const [composer, setComposer] = useState<{ path: string; line: number } | null>(null);
  const [draft, setDraft] = useState("");
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());
  const [expanded, setExpanded] = useState<Record<string, { lines: DiffLine[]; done: boolean }>>({});
  const [expandError, setExpandError] = useState<string | null>(null);
  const add = useMutation(
    trpc.review.addComment.mutationOptions({
      onSuccess: async () => {
        setComposer(null);
        setDraft("");
        await queryClient.invalidateQueries({ queryKey: trpc.review.comments.queryKey({ runId }) });
      },
    }),
  );
  const remove = useMutation(
    trpc.review.deleteComment.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.review.comments.queryKey({ runId }) }),
    }),
  );

  const toCommit = diff.data?.to ?? null;
  // Expanded context belongs to one version of the diff.
  useEffect(() => setExpanded({}), [toCommit]);

  const stats = (diff.data?.diffStats ?? []) as FileChange[];
  const patches = useMemo(() => parsePatch(diff.data?.diff ?? ""), [diff.data?.diff]);
  const statsByPath = useMemo(() => new Map(stats.map((f) => [f.path, f])), [stats]);
  const tree = useMemo(() => buildFileTree(patches.map((p) => p.path)), [patches]);
  const order = useMemo(() => treeOrder(tree), [tree]);

  const byLine = useMemo(() => {
    const map = new Map<string, Comment[]>();
    for (const c of comments.data ?? []) {
      const key = `${c.path}:${c.line}`;
      map.set(key, [...(map.get(key) ?? []), c]);
    }
    return map;
  }, [comments.data]);

  const rows = useMemo(
    () =>
      buildRows({
        patches,
        order,
        split,
        collapsed,
        expanded,
        byLine,
        composer: reviewable ? composer : null,
        showComments: scope === "run",
      }),
    [patches, order, split, collapsed, expanded, byLine, composer, reviewable, scope],
  );
  const fileRowIndex = useMemo(() => {
    const index = new Map<number, number>();
    rows.forEach((r, i) => r.t === "file" && index.set(r.file, i));
    return index;
  }, [rows]);

  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: (i) => ESTIMATE[rows[i]!.t],
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const scrolledFile =
    rows[items.find((item) => item.end > (virtualizer.scrollOffset ?? 0) + 1)?.index ?? 0]?.file ?? order[0] ?? 0;
  // The file n/p or the tree went to. The scroll position alone cannot say: a diff shorter than its box
  // does not scroll at all, and the last files never reach the top. The reader scrolling again unpins it.
  const [pinned, setPinned] = useState<number | null>(null);
  const currentFile = pinned ?? scrolledFile;
  useEffect(() => setPinned(null), [patches]);
  const unpin = useCallback(() => {
    const el = scroller.current;
    if (el && el.scrollHeight > el.clientHeight + 1) setPinned(null);
  }, []);

  const goToFile = useCallback(
    (file: number) => {
      const index = fileRowIndex.get(file);
      if (index === undefined) return;
      setPinned(file);
      virtualizer.scrollToIndex(index, { align: "start" });
      // The list scrolled inside its box; the page may still have the box (or that header) out of sight.
      requestAnimationFrame(() =>
        requestAnimationFrame(() => {
          const header = scroller.current?.querySelector(`[data-index="${index}"]`);
          const box = header?.getBoundingClientRect();
          if (header && box && (box.top < 0 || box.bottom > window.innerHeight))
            header.scrollIntoView({ block: "start" });
        }),
      );
    },
    [fileRowIndex, virtualizer],
  );

  // The tree follows: its current file stays in sight in its own scroll box, without moving the page.
  const fileTree = useRef<HTMLElement>(null);
  useEffect(() => {
    const nav = fileTree.current;
    const item = nav?.querySelector('[aria-current="true"]');
    if (!nav || !item) return;
    const at = item.getBoundingClientRect().top - nav.getBoundingClientRect().top;
    if (at < 0 || at > nav.clientHeight - 24) nav.scrollTop += at - nav.clientHeight / 3;
  }, [currentFile]);

  const openComposer = useCallback((path: string, line: number) => {
    setComposer({ path, line });
    setDraft("");
  }, []);

  useImperativeHandle(
    ref,
    () => ({
      stepFile(step) {
        if (order.length === 0) return;
        const at = order.indexOf(currentFile);
        goToFile(order[(at + step + order.length) % order.length]!);
      },
      commentOnCurrentFile() {
        if (!reviewable) return;
        const patch = patches[currentFile];
        const line =
          patch?.lines.find((l) => l.kind === "add")?.newLine ??
          patch?.lines.find((l) => l.newLine !== undefined)?.newLine;
        if (patch && line !== undefined) {
          openComposer(patch.path, line);
          const index = rows.findIndex((r) => r.t === "line" && r.file === currentFile && r.line.newLine === line);
          if (index >= 0) virtualizer.scrollToIndex(index, { align: "center" });
        }
      },
    }),
    [order, currentFile, goToFile, reviewable, patches, openComposer, rows, virtualizer],
  );

  // Rendered rows are cached (below), so what "expand" reads must be current, not what a cached row closed over.
  const latest = useRef({ expanded, toCommit });
  latest.current = { expanded, toCommit };
  async function expand(patch: FilePatch, gap: Gap) {
    const { expanded, toCommit } = latest.current;
    const key = gapKey(patch.path, gap);
    const have = expanded[key]?.lines ?? [];
    const start = gap.start + have.length;
    const end = gap.end === null ? start + EXPAND_STEP - 1 : Math.min(gap.end, start + EXPAND_STEP - 1);
    if (!toCommit) return;
    setExpandError(null);
    try {
      const got = await queryClient.fetchQuery(
        trpc.runs.fileLines.queryOptions({ runId, commit: toCommit, path: patch.path, start, end }),
      );
      const lines = got.lines.map((text, i) => ({
        kind: "ctx" as const,
        text,
        newLine: got.start + i,
        oldLine: got.start + i - gap.offset,
      }));
      const done = gap.end === null ? got.end >= got.total : start + lines.length > gap.end;
      setExpanded((prev) => ({ ...prev, [key]: { lines: [...(prev[key]?.lines ?? []), ...lines], done } }));
    } catch (error) {
      setExpandError((error as Error).message);
    }
  }

  const rowCache = useMemo(() => new WeakMap<Row, ReactNode>(), [rows, reviewable, statsByPath, collapsed]);
  const finishedTurns = (turns.data ?? []).filter((t) => t.headSha);
  const toolbar = (
    <span className="flex items-center gap-3 font-mono text-xs">
      {finishedTurns.length > 1 && (
        <select
          aria-label="Diff scope"
          className="rounded border border-white/10 bg-black/30 px-2 py-0.5 text-xs text-gray-200"
          value={String(scope)}
          onChange={(e) => setScope(e.target.value === "run" ? "run" : Number(e.target.value))}
        >
          <option value="run">Whole run</option>
          {finishedTurns.map((t) => (
            <option key={t.index} value={t.index}>
              Turn {t.index + 1} only
            </option>
          ))}
        </select>
      )}
      <span role="group" aria-label="Diff layout" className="flex overflow-hidden rounded border border-white/10">
        {(["unified", "split"] as const).map((mode) => (
          <button
            key={mode}
            type="button"
            aria-pressed={(mode === "split") === split}
            onClick={() => setSplit(mode === "split")}
            className={`px-2 py-0.5 ${(mode === "split") === split ? "bg-white/10 text-white" : "text-gray-400 hover:text-gray-200"}`}
          >
            {mode}
          </button>
        ))}
      </span>
      <span>
        {stats.length} file{stats.length === 1 ? "" : "s"}{" "}
        <span className="text-emerald-400">+{stats.reduce((n, f) => n + f.additions, 0)}</span>{" "}
        <span className="text-red-400">−{stats.reduce((n, f) => n + f.deletions, 0)}</span>
      </span>
    </span>
  );

  if (!diff.data || diff.data.diff === null) {
    return (
      <Panel title="Diff">
        <p className="text-sm text-gray-500">
          {status === "queued" || status === "running"
            ? "The diff appears when the turn ends."
            : "No diff was recorded."}
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

  // Scrolling re-renders the list every frame; a row that stays on screen keeps its element, so React skips it.
  const cachedRow = (row: Row): ReactNode => {
    if (row.t === "composer") return renderRow(row);
    let element = rowCache.get(row);
    if (element === undefined) {
      element = renderRow(row);
      rowCache.set(row, element);
    }
    return element;
  };

  const renderRow = (row: Row): ReactNode => {
    const patch = patches[row.file]!;
    const language = languageFor(patch.path);
    switch (row.t) {
      case "file": {
        const stat = statsByPath.get(patch.path);
        const isCollapsed = collapsed.has(patch.path);
        return (
          <div
            data-testid="diff-file"
            className="mt-3 flex items-center gap-3 rounded-t-md border border-white/10 bg-[#161b25] px-3 py-1.5 font-mono text-xs text-gray-200 first:mt-0"
          >
            <button
              type="button"
              aria-expanded={!isCollapsed}
              aria-label={`${isCollapsed ? "Expand" : "Collapse"} ${patch.path}`}
              className="w-4 text-gray-500 hover:text-gray-200"
              onClick={() => setCollapsed((prev) => toggled(prev, patch.path))}
            >
              {isCollapsed ? "▸" : "▾"}
            </button>
            <span className="flex-1 truncate">
              {stat?.oldPath ? `${stat.oldPath} → ` : ""}
              {patch.path}
            </span>
            {stat && !stat.binary && (
              <span>
                <span className="text-emerald-400">+{stat.additions}</span>{" "}
                <span className="text-red-400">−{stat.deletions}</span>
              </span>
            )}
          </div>
        );
      }
      case "note":
        return (
          <div
            data-testid="diff-file-note"
            className="border-x border-white/10 px-3 py-1.5 text-xs italic text-gray-400"
          >
            {row.text}
          </div>
        );
      case "line": {
        const { line } = row;
        if (line.kind === "hunk" || line.kind === "meta") return <FullLine line={line} />;
        return (
          <div
            data-kind={line.kind}
            className={`grid grid-cols-[3rem_3rem_1rem_1fr] border-x border-white/10 font-mono text-xs leading-5 ${LINE_STYLE[line.kind]}`}
          >
            <span className="select-none pr-2 text-right text-gray-600">{line.oldLine ?? ""}</span>
            <LineNumber path={patch.path} line={line} reviewable={reviewable} onComment={openComposer} />
            <span className="select-none text-gray-500">
              {line.kind === "add" ? "+" : line.kind === "del" ? "−" : ""}
            </span>
            <Code text={line.text} language={language} />
          </div>
        );
      }
      case "split": {
        const { left, right, full } = row.row;
        if (full) return <FullLine line={full} />;
        return (
          <div
            data-kind={right?.kind === "add" || left?.kind === "del" ? "change" : "ctx"}
            className="grid grid-cols-2 border-x border-white/10 font-mono text-xs leading-5"
          >
            <div
              data-kind={left?.kind}
              className={`grid grid-cols-[3rem_1fr] border-r border-white/10 ${left ? LINE_STYLE[left.kind] : "bg-white/[0.02]"}`}
            >
              <span className="select-none pr-2 text-right text-gray-600">{left?.oldLine ?? ""}</span>
              {left ? <Code text={left.text} language={language} /> : <span />}
            </div>
            <div
              data-kind={right?.kind}
              className={`grid grid-cols-[3rem_1fr] ${right ? LINE_STYLE[right.kind] : "bg-white/[0.02]"}`}
            >
              {right ? (
                <LineNumber path={patch.path} line={right} reviewable={reviewable} onComment={openComposer} />
              ) : (
                <span />
              )}
              {right ? <Code text={right.text} language={language} /> : <span />}
            </div>
          </div>
        );
      }
      case "gap":
        return (
          <div className="border-x border-white/10 bg-sky-500/[0.04] px-3 py-1 text-xs">
            <button
              type="button"
              data-testid="expand-context"
              className="text-sky-300/80 hover:text-sky-200 hover:underline"
              onClick={() => void expand(patch, row.gap)}
            >
              {row.hidden === null
                ? "↓ Show unchanged lines below"
                : `↕ Show ${Math.min(row.hidden, EXPAND_STEP)}${row.hidden > EXPAND_STEP ? ` of ${row.hidden}` : ""} unchanged line${row.hidden === 1 ? "" : "s"}`}
            </button>
          </div>
        );
      case "comments":
        return (
          <div className="space-y-1.5 border-x border-white/10 px-3 py-1.5">
            {row.note && <p className="text-xs text-amber-300/70">{row.note}</p>}
            {row.comments.map((c) => (
              <div
                key={c.id}
                data-testid="review-comment"
                data-status={c.status}
                className="rounded-md border border-amber-400/30 bg-amber-500/5 px-3 py-2 text-sm text-amber-100"
              >
                <div className="mb-1 flex items-center justify-between text-xs text-amber-300/80">
                  <span>
                    {row.note ? `line ${c.line} · ` : ""}comment ·{" "}
                    {c.status === "resolved" ? "resolved" : c.status === "sent" ? "sent to the agent" : "pending"}
                  </span>
                  {c.status === "pending" && (
                    <button
                      type="button"
                      className="hover:text-red-300"
                      onClick={() => remove.mutate({ commentId: c.id })}
                    >
                      delete
                    </button>
                  )}
                </div>
                <p className="whitespace-pre-wrap">{c.body}</p>
              </div>
            ))}
          </div>
        );
      case "composer":
        return (
          <div className="border-x border-white/10 px-3 py-2">
            <form
              className="space-y-2"
              onSubmit={(e) => {
                e.preventDefault();
                add.mutate({ runId, path: patch.path, line: row.line, body: draft });
              }}
            >
              <textarea
                autoFocus
                aria-label="Comment"
                value={draft}
                onChange={(e) => setDraft(e.target.value)}
                onKeyDown={(e) => {
                  if (e.key === "Escape") setComposer(null);
                  if (e.key === "Enter" && (e.metaKey || e.ctrlKey))
                    add.mutate({ runId, path: patch.path, line: row.line, body: draft });
                }}
                className="min-h-20 w-full rounded-md border border-white/10 bg-black/40 p-2 text-sm text-gray-100"
                placeholder={`Comment on ${patch.path}:${row.line}`}
              />
              <ErrorNote message={add.error?.message} />
              <div className="flex gap-2">
                <button
                  type="submit"
                  className="rounded-md bg-amber-500 px-3 py-1 text-xs font-medium text-black hover:bg-amber-400"
                >
                  Add comment
                </button>
                <button type="button" className="px-2 text-xs text-gray-400" onClick={() => setComposer(null)}>
                  Cancel
                </button>
              </div>
            </form>
          </div>
        );
    }
  };

  return (
    <Panel title="Diff" actions={toolbar}>
      {reviewable && (
        <p className="mb-2 text-xs text-gray-500">
          Click a line number to comment on it; comments go to the agent with “Request changes”.
        </p>
      )}
      <ErrorNote message={expandError} />
      <div className="flex gap-3" data-testid="diff">
        <nav
          ref={fileTree}
          aria-label="Changed files"
          data-testid="diff-files"
          className="hidden max-h-[75vh] w-64 shrink-0 overflow-auto rounded-md border border-white/10 py-1 text-xs md:block"
        >
          <FileTree
            nodes={tree}
            depth={0}
            current={currentFile}
            stats={statsByPath}
            patches={patches}
            onPick={goToFile}
          />
        </nav>
        <div
          ref={scroller}
          data-testid="diff-scroller"
          onWheel={unpin}
          onTouchMove={unpin}
          onPointerDown={unpin}
          className="max-h-[75vh] min-w-0 flex-1 overflow-auto"
          style={{ height: Math.min(virtualizer.getTotalSize() + 2, 4000) }}
        >
          <div className="hl relative w-full" style={{ height: virtualizer.getTotalSize() }}>
            {items.map((item) => {
              const row = rows[item.index]!;
              return (
                <div
                  key={item.key}
                  data-index={item.index}
                  data-current={row.t === "file" && row.file === currentFile ? "true" : undefined}
                  ref={virtualizer.measureElement}
                  className={`absolute left-0 top-0 w-full scroll-mt-4 ${row.t === "file" && row.file === currentFile ? "[&>div]:border-sky-400/70 [&>div]:bg-sky-500/15" : ""}`}
                  style={{ transform: `translateY(${item.start}px)` }}
                >
                  {cachedRow(row)}
                </div>
              );
            })}
          </div>
        </div>
      </div>
    </Panel>
  );
});

function FullLine({ line }: { line: DiffLine }) {
  return (
    <div className={`border-x border-white/10 px-3 font-mono text-xs leading-5 ${LINE_STYLE[line.kind]}`}>
      {line.text}
    </div>
  );
}

function Code({ text, language }: { text: string; language: string | null }) {
  // highlight.js escapes the text it is given; the result is markup of spans only.
  return (
    <span
      className="whitespace-pre-wrap break-all pr-3"
      dangerouslySetInnerHTML={{ __html: highlightLine(text, language) || " " }}
    />
  );
}

function LineNumber({
  path,
  line,
  reviewable,
  onComment,
}: {
  path: string;
  line: DiffLine;
  reviewable: boolean;
  onComment: (path: string, line: number) => void;
}) {
  if (line.newLine === undefined) return <span className="select-none pr-2 text-right text-gray-600" />;
  if (!reviewable) return <span className="select-none pr-2 text-right text-gray-600">{line.newLine}</span>;
  return (
    <button
      type="button"
      data-testid={`line-${path}:${line.newLine}`}
      className="select-none pr-2 text-right text-gray-500 hover:text-sky-300"
      title="Comment on this line"
      onClick={() => onComment(path, line.newLine!)}
    >
      {line.newLine}
    </button>
  );
}

const FileTree = memo(function FileTree(props: {
  nodes: TreeNode[];
  depth: number;
  current: number;
  stats: Map<string, FileChange>;
  patches: FilePatch[];
  onPick: (file: number) => void;
}) {
  const { nodes, depth, current, stats, patches, onPick } = props;
  return (
    <ul>
      {nodes.map((node) => {
        if (node.file === undefined) {
          return (
            <li key={`d:${node.name}`}>
              <div
                className="truncate py-0.5 font-mono text-gray-500"
                style={{ paddingLeft: 8 + depth * 12 }}
                title={node.name}
              >
                {node.name}/
              </div>
              <FileTree {...props} nodes={node.children} depth={depth + 1} />
            </li>
          );
        }
        const patch = patches[node.file]!;
        const stat = stats.get(patch.path);
        return (
          <li key={`f:${node.file}`}>
            <button
              type="button"
              onClick={() => onPick(node.file!)}
              aria-current={node.file === current ? "true" : undefined}
              className={`flex w-full items-center gap-2 py-0.5 pr-2 text-left font-mono hover:bg-white/5 ${node.file === current ? "bg-sky-500/10 text-white" : "text-gray-300"}`}
              style={{ paddingLeft: 8 + depth * 12 }}
              title={patch.path}
            >
              <span className="w-3 shrink-0 text-gray-500">{stat ? STATUS_LETTER[stat.status] : ""}</span>
              <span className="flex-1 truncate">{node.name}</span>
              {stat && !stat.binary && (
                <span className="shrink-0">
                  <span className="text-emerald-400">+{stat.additions}</span>{" "}
                  <span className="text-red-400">−{stat.deletions}</span>
                </span>
              )}
            </button>
          </li>
        );
      })}
    </ul>
  );
});

/** Flattens the files (in tree order) into the rows the virtualiser lays out. */
function buildRows(input: {
  patches: FilePatch[];
  order: number[];
  split: boolean;
  collapsed: ReadonlySet<string>;
  expanded: Record<string, { lines: DiffLine[]; done: boolean }>;
  byLine: Map<string, Comment[]>;
  composer: { path: string; line: number } | null;
  showComments: boolean;
}): Row[] {
  const { patches, order, split, collapsed, expanded, byLine, composer, showComments } = input;
  const rows: Row[] = [];
  for (const file of order) {
    const patch = patches[file]!;
    rows.push({ t: "file", file });
    if (collapsed.has(patch.path)) continue;
    if (patch.note) rows.push({ t: "note", file, text: patch.note });
    // Expanded context goes where its gap was; the gap row stays while lines remain hidden.
    const lines: DiffLine[] = [];
    const gapsAt = new Map<number, { gap: Gap; hidden: number | null }[]>();
    let g = 0;
    const pushGapsAt = (index: number) => {
      for (; g < patch.gaps.length && patch.gaps[g]!.before === index; g++) {
        const gap = patch.gaps[g]!;
        const shown = expanded[gapKey(patch.path, gap)];
        for (const l of shown?.lines ?? []) lines.push(l);
        if (shown?.done) continue;
        const hidden = gap.end === null ? null : gap.end - gap.start + 1 - (shown?.lines.length ?? 0);
        if (hidden === 0) continue;
        gapsAt.set(lines.length, [...(gapsAt.get(lines.length) ?? []), { gap, hidden }]);
      }
    };
    patch.lines.forEach((line, i) => {
      pushGapsAt(i);
      lines.push(line);
    });
    pushGapsAt(patch.lines.length);

    const seen = new Set<number>();
    const after = (newLine: number | undefined) => {
      if (newLine === undefined || !showComments) return;
      seen.add(newLine);
      const here = byLine.get(`${patch.path}:${newLine}`);
      if (here) rows.push({ t: "comments", file, comments: here });
      if (composer && composer.path === patch.path && composer.line === newLine)
        rows.push({ t: "composer", file, line: newLine });
    };
    const emitGaps = (index: number) => {
      for (const { gap, hidden } of gapsAt.get(index) ?? []) rows.push({ t: "gap", file, gap, hidden });
    };
    if (split) {
      // Split rows are built per run of lines between gap rows, so pairing never crosses a gap.
      let from = 0;
      // A gap after the last line is keyed at lines.length too: each cut once, or that gap shows twice.
      const cuts = [...new Set([...gapsAt.keys(), lines.length])].sort((a, b) => a - b);
      for (const cut of cuts) {
        for (const row of toSplitRows(lines.slice(from, cut))) {
          rows.push({ t: "split", file, row });
          after(row.right?.newLine);
        }
        emitGaps(cut);
        from = cut;
      }
    } else {
      lines.forEach((line, i) => {
        emitGaps(i);
        rows.push({ t: "line", file, line });
        after(line.newLine);
      });
      emitGaps(lines.length);
    }
    // Comments whose line is not in this diff any more (the code moved on since they were written).
    if (showComments) {
      const outdated = [...byLine.entries()]
        .filter(([key]) => key.startsWith(`${patch.path}:`))
        .flatMap(([, cs]) => cs.filter((c) => !seen.has(c.line)));
      if (outdated.length > 0)
        rows.push({ t: "comments", file, comments: outdated, note: "Comments on lines not shown in this diff" });
    }
  }
  return rows;
}

/** Unified or split, remembered in this browser. */
function useSplitPreference(): [boolean, (split: boolean) => void] {
  const [split, setSplit] = useState(false);
  useEffect(() => setSplit(window.localStorage.getItem("loopy.diff.layout") === "split"), []);
  return [
    split,
    (value: boolean) => {
      setSplit(value);
      window.localStorage.setItem("loopy.diff.layout", value ? "split" : "unified");
    },
  ];
}

import { useMemo } from "react";
import {
  buildFileTree,
  type DiffLine,
  type FilePatch,
  type Gap,
  parsePatch,
  type SplitRow,
  type TreeNode,
  toSplitRows,
  treeOrder,
} from "./diff-lines";

export interface Comment {
  id: string;
  path: string;
  line: number;
  body: string;
  status: string;
}

/** Unchanged lines shown for one gap (fetched by "expand"), and whether the gap is used up. */
export type Expanded = Record<string, { lines: DiffLine[]; done: boolean }>;

/** One row of the virtualised list. */
export type Row =
  | { t: "file"; file: number }
  | { t: "note"; file: number; text: string }
  | { t: "line"; file: number; line: DiffLine }
  | { t: "split"; file: number; row: SplitRow }
  | { t: "gap"; file: number; gap: Gap; hidden: number | null }
  | { t: "comments"; file: number; comments: Comment[]; note?: string }
  | { t: "composer"; file: number; line: number };

/** A row's height before it is measured. */
export const ESTIMATE: Record<Row["t"], number> = {
  file: 34,
  note: 28,
  line: 20,
  split: 20,
  gap: 26,
  comments: 84,
  composer: 150,
};

export const gapKey = (path: string, gap: Gap) => `${path}@${gap.start}`;

export interface DiffRows {
  patches: FilePatch[];
  tree: TreeNode[];
  /** File indexes in the tree's order. */
  order: number[];
  rows: Row[];
  /** A file's header row. */
  fileRowIndex: Map<number, number>;
}

/** The diff text parsed into files, their tree, and the rows of the list (with comments, gaps and the comment box). */
export function useDiffRows(input: {
  diff: string;
  comments: Comment[] | undefined;
  split: boolean;
  collapsed: ReadonlySet<string>;
  expanded: Expanded;
  composer: { path: string; line: number } | null;
  showComments: boolean;
}): DiffRows {
  const { diff, comments, split, collapsed, expanded, composer, showComments } = input;
  const patches = useMemo(() => parsePatch(diff), [diff]);
  const tree = useMemo(() => buildFileTree(patches.map((p) => p.path)), [patches]);
  const order = useMemo(() => treeOrder(tree), [tree]);
  const byLine = useMemo(() => {
    const map = new Map<string, Comment[]>();
    for (const c of comments ?? []) {
      const key = `${c.path}:${c.line}`;
      map.set(key, [...(map.get(key) ?? []), c]);
    }
    return map;
  }, [comments]);
  const rows = useMemo(
    () => buildRows({ patches, order, split, collapsed, expanded, byLine, composer, showComments }),
    [patches, order, split, collapsed, expanded, byLine, composer, showComments],
  );
  const fileRowIndex = useMemo(() => {
    const index = new Map<number, number>();
    for (const [i, r] of rows.entries()) if (r.t === "file") index.set(r.file, i);
    return index;
  }, [rows]);
  return { patches, tree, order, rows, fileRowIndex };
}

/** A file's lines with the expanded context put where its gaps were, and where the remaining gap rows go. */
function withContext(patch: FilePatch, expanded: Expanded) {
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
  for (const [i, line] of patch.lines.entries()) {
    pushGapsAt(i);
    lines.push(line);
  }
  pushGapsAt(patch.lines.length);
  return { lines, gapsAt };
}

/** Flattens the files (in tree order) into the rows the virtualiser lays out. */
function buildRows(input: {
  patches: FilePatch[];
  order: number[];
  split: boolean;
  collapsed: ReadonlySet<string>;
  expanded: Expanded;
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
    const { lines, gapsAt } = withContext(patch, expanded);

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
      for (const [i, line] of lines.entries()) {
        emitGaps(i);
        rows.push({ t: "line", file, line });
        after(line.newLine);
      }
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

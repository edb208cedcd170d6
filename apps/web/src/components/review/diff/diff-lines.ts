/** One rendered line of a unified diff, with its line numbers on both sides. */
export interface DiffLine {
  kind: "add" | "del" | "ctx" | "hunk" | "meta";
  text: string;
  oldLine?: number;
  newLine?: number;
}

/** Unchanged lines a diff leaves out, in new-side numbers: [start, end], or to the end of the file when `end` is null. */
export interface Gap {
  /** Index into the file's `lines` this gap comes before (lines.length for the gap after the last hunk). */
  before: number;
  start: number;
  end: number | null;
  /** old line = new line − offset, for the unchanged lines of this gap. */
  offset: number;
}

export interface FilePatch {
  path: string;
  lines: DiffLine[];
  /** Unchanged regions between (and around) hunks that the viewer can expand. Empty for added, deleted and binary files. */
  gaps: Gap[];
  /** Why a file has no lines to show (an empty file, a mode change), so its header does not stand alone unexplained. */
  note?: string;
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/**
 * A hunk header's numbers. A side with no lines ("+5,0") names the line *before*
 * the hunk, so `first` is where that side's lines start or would start.
 */
function hunkRange(m: RegExpExecArray) {
  const oldStart = Number(m[1]);
  const oldCount = Number(m[2] ?? 1);
  const newStart = Number(m[3]);
  const newCount = Number(m[4] ?? 1);
  return {
    oldStart,
    newStart,
    oldCount,
    newCount,
    oldFirst: oldCount === 0 ? oldStart + 1 : oldStart,
    newFirst: newCount === 0 ? newStart + 1 : newStart,
  };
}

/** Splits a unified diff into files and numbers every line (new-side numbers are what comments attach to). */
export function parsePatch(patch: string): FilePatch[] {
  const files: (FilePatch & {
    added: boolean;
    deleted: boolean;
    binary: boolean;
    oldMode?: string;
    newMode?: string;
    renamed?: boolean;
  })[] = [];
  let oldLine = 0;
  let newLine = 0;
  let inHunk = false;
  for (const raw of patch.split("\n")) {
    if (raw.startsWith("diff --git ")) {
      const match = / b\/(.*)$/.exec(raw);
      files.push({ path: match?.[1] ?? raw, lines: [], gaps: [], added: false, deleted: false, binary: false });
      inHunk = false;
      continue;
    }
    const file = files[files.length - 1];
    if (!file) continue;
    // Header lines only come before a file's first hunk: inside one, "--- x" is a deleted "-- x".
    if (
      !inHunk &&
      /^(index |similarity |rename |new file mode|deleted file mode|old mode|new mode|--- |\+\+\+ |Binary files)/.test(
        raw,
      )
    ) {
      if (raw.startsWith("Binary files")) {
        file.binary = true;
        file.lines.push({ kind: "meta", text: raw });
      }
      if (raw.startsWith("new file mode")) file.added = true;
      if (raw.startsWith("deleted file mode")) file.deleted = true;
      if (raw.startsWith("old mode ")) file.oldMode = raw.slice(9);
      if (raw.startsWith("new mode ")) file.newMode = raw.slice(9);
      if (raw.startsWith("rename from ")) file.renamed = true;
      continue;
    }
    const hunk = HUNK.exec(raw);
    if (hunk) {
      const h = hunkRange(hunk);
      if (!file.added && !file.deleted) {
        // The unchanged lines between the previous hunk (or the top of the file) and this one.
        const from = inHunk ? newLine : 1;
        if (h.newFirst > from)
          file.gaps.push({
            before: file.lines.length,
            start: from,
            end: h.newFirst - 1,
            offset: h.newFirst - h.oldFirst,
          });
      }
      inHunk = true;
      oldLine = h.oldStart;
      newLine = h.newStart;
      file.lines.push({ kind: "hunk", text: raw });
    } else if (raw.startsWith("+")) file.lines.push({ kind: "add", text: raw.slice(1), newLine: newLine++ });
    else if (raw.startsWith("-")) file.lines.push({ kind: "del", text: raw.slice(1), oldLine: oldLine++ });
    else if (raw.startsWith(" "))
      file.lines.push({ kind: "ctx", text: raw.slice(1), oldLine: oldLine++, newLine: newLine++ });
    else if (raw.startsWith("\\")) file.lines.push({ kind: "meta", text: raw });
  }
  return files.map(({ path, lines, gaps, added, deleted, binary, oldMode, newMode, renamed }) => {
    if (lines.length === 0) {
      const note = added
        ? "Empty file"
        : deleted
          ? "Empty file deleted"
          : oldMode && newMode
            ? `File mode changed from ${oldMode} to ${newMode}`
            : renamed
              ? "Renamed, content unchanged"
              : undefined;
      return note ? { path, lines, gaps, note } : { path, lines, gaps };
    }
    // After the last hunk there may be more unchanged lines; the viewer learns how many when it asks.
    if (added || deleted || binary || !lines.some((l) => l.kind === "hunk")) return { path, lines, gaps };
    const last = hunkRange(HUNK.exec([...lines].reverse().find((l) => l.kind === "hunk")!.text)!);
    const oldEnd = last.oldFirst + last.oldCount - 1;
    const newEnd = last.newFirst + last.newCount - 1;
    return {
      path,
      lines,
      gaps: [...gaps, { before: lines.length, start: newEnd + 1, end: null, offset: newEnd - oldEnd }],
    };
  });
}

/** A row of the split view: the old side on the left, the new side on the right. */
export interface SplitRow {
  left?: DiffLine;
  right?: DiffLine;
  /** A hunk header or a meta line spans both sides. */
  full?: DiffLine;
}

/** Pairs each run of deleted lines with the run of added lines after it, so a changed line sits next to what replaced it. */
export function toSplitRows(lines: DiffLine[]): SplitRow[] {
  const rows: SplitRow[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.kind === "hunk" || line.kind === "meta") {
      rows.push({ full: line });
      i++;
    } else if (line.kind === "ctx") {
      rows.push({ left: line, right: line });
      i++;
    } else {
      const dels: DiffLine[] = [];
      const adds: DiffLine[] = [];
      while (i < lines.length && lines[i]!.kind === "del") dels.push(lines[i++]!);
      while (i < lines.length && lines[i]!.kind === "add") adds.push(lines[i++]!);
      for (let k = 0; k < Math.max(dels.length, adds.length); k++) rows.push({ left: dels[k], right: adds[k] });
    }
  }
  return rows;
}

/** A folder or a file of the changed-files tree. Chains of single folders are joined ("src/app"). */
export interface TreeNode {
  name: string;
  /** Set on files: the index of the file in the diff. */
  file?: number;
  children: TreeNode[];
}

export function buildFileTree(paths: string[]): TreeNode[] {
  const root: TreeNode = { name: "", children: [] };
  paths.forEach((p, index) => {
    const parts = p.split("/");
    let node = root;
    for (const part of parts.slice(0, -1)) {
      let next = node.children.find((c) => c.file === undefined && c.name === part);
      if (!next) {
        next = { name: part, children: [] };
        node.children.push(next);
      }
      node = next;
    }
    node.children.push({ name: parts.at(-1)!, file: index, children: [] });
  });
  // Folders first, then files, each alphabetically.
  const sorted = (nodes: TreeNode[]) =>
    nodes.sort((a, b) => Number(a.file !== undefined) - Number(b.file !== undefined) || a.name.localeCompare(b.name));
  const compact = (node: TreeNode): TreeNode => {
    let current = node;
    while (current.file === undefined && current.children.length === 1 && current.children[0]!.file === undefined) {
      const only = current.children[0]!;
      current = { name: `${current.name}/${only.name}`, children: only.children };
    }
    return { ...current, children: sorted(current.children.map(compact)) };
  };
  return sorted(root.children.map(compact));
}

/** The files of a tree in the order it shows them, so n/p can follow the tree. */
export function treeOrder(nodes: TreeNode[]): number[] {
  return nodes.flatMap((n) => (n.file !== undefined ? [n.file] : treeOrder(n.children)));
}

const LANGUAGES: Record<string, string> = {
  ts: "typescript",
  tsx: "typescript",
  mts: "typescript",
  cts: "typescript",
  js: "javascript",
  jsx: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  json: "json",
  py: "python",
  rb: "ruby",
  go: "go",
  rs: "rust",
  java: "java",
  kt: "kotlin",
  c: "c",
  h: "c",
  cc: "cpp",
  cpp: "cpp",
  hpp: "cpp",
  cs: "csharp",
  swift: "swift",
  php: "php",
  css: "css",
  scss: "scss",
  html: "xml",
  xml: "xml",
  svg: "xml",
  vue: "xml",
  md: "markdown",
  yml: "yaml",
  yaml: "yaml",
  toml: "ini",
  ini: "ini",
  sh: "bash",
  bash: "bash",
  zsh: "bash",
  sql: "sql",
  prisma: "typescript",
};

/** The highlight.js language for a path, or null for plain text. */
export function languageFor(path: string): string | null {
  const name = path.split("/").at(-1)!.toLowerCase();
  if (name === "dockerfile") return "dockerfile";
  if (name === "makefile") return "makefile";
  const ext = name.includes(".") ? name.split(".").at(-1)! : "";
  return LANGUAGES[ext] ?? null;
}

/** Tailwind classes of a diff line by kind, shared by every diff on the page. */
export const LINE_STYLE: Record<DiffLine["kind"], string> = {
  add: "bg-emerald-500/10 text-emerald-50",
  del: "bg-red-500/10 text-red-50",
  ctx: "text-gray-300",
  hunk: "bg-sky-500/5 text-sky-300/80",
  meta: "text-gray-500",
};

/** A copy of `set` with `value` added, or removed when it was there. */
export function toggled(set: ReadonlySet<string>, value: string): ReadonlySet<string> {
  const next = new Set(set);
  if (!next.delete(value)) next.add(value);
  return next;
}

/**
 * A stable key for each line of a file: its kind and numbers; a line without numbers (a hunk header, a
 * "\ No newline" note) is named by the numbered line before it and its place in the run of such lines.
 */
export function lineKeys(lines: DiffLine[]): string[] {
  let last = "start";
  let run = 0;
  return lines.map((line) => {
    if (line.oldLine === undefined && line.newLine === undefined) return `${line.kind}@${last}#${run++}`;
    last = `${line.oldLine ?? ""}:${line.newLine ?? ""}`;
    run = 0;
    return `${line.kind}:${last}`;
  });
}

/** One rendered line of a unified diff, with its line numbers on both sides. */
export interface DiffLine {
  kind: "add" | "del" | "ctx" | "hunk" | "meta";
  text: string;
  oldLine?: number;
  newLine?: number;
}

export interface FilePatch {
  path: string;
  lines: DiffLine[];
}

/** Splits a unified diff into files and numbers every line (new-side numbers are what comments attach to). */
export function parsePatch(patch: string): FilePatch[] {
  const files: FilePatch[] = [];
  let oldLine = 0;
  let newLine = 0;
  let inHunk = false;
  for (const raw of patch.split("\n")) {
    if (raw.startsWith("diff --git ")) {
      const match = / b\/(.*)$/.exec(raw);
      files.push({ path: match?.[1] ?? raw, lines: [] });
      inHunk = false;
      continue;
    }
    const file = files[files.length - 1];
    if (!file) continue;
    // Header lines only come before a file's first hunk: inside one, "--- x" is a deleted "-- x".
    if (!inHunk && /^(index |similarity |rename |new file mode|deleted file mode|old mode|new mode|--- |\+\+\+ |Binary files)/.test(raw)) {
      if (raw.startsWith("Binary files")) file.lines.push({ kind: "meta", text: raw });
      continue;
    }
    const hunk = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(raw);
    if (hunk) {
      inHunk = true;
      oldLine = Number(hunk[1]);
      newLine = Number(hunk[2]);
      file.lines.push({ kind: "hunk", text: raw });
    } else if (raw.startsWith("+")) file.lines.push({ kind: "add", text: raw.slice(1), newLine: newLine++ });
    else if (raw.startsWith("-")) file.lines.push({ kind: "del", text: raw.slice(1), oldLine: oldLine++ });
    else if (raw.startsWith(" ")) file.lines.push({ kind: "ctx", text: raw.slice(1), oldLine: oldLine++, newLine: newLine++ });
    else if (raw.startsWith("\\")) file.lines.push({ kind: "meta", text: raw });
  }
  return files;
}

import { formatBytes } from "@loopy/config/bytes";
import { git, gitCapped } from "./git.ts";

export interface FileChange {
  path: string;
  /** Former path for renames. */
  oldPath?: string;
  status: "added" | "modified" | "deleted" | "renamed" | "copied" | "type_changed";
  additions: number;
  deletions: number;
  binary: boolean;
  /** A binary file's size in bytes (the new side; the old one for a deletion). Its content is never in the patch. */
  bytes?: number;
}

export interface RunDiff {
  files: FileChange[];
  additions: number;
  deletions: number;
  /** Unified diff text, cut at `maxBytes` with a marker when larger. */
  patch: string;
  truncated: boolean;
}

const STATUS: Record<string, FileChange["status"]> = {
  A: "added",
  M: "modified",
  D: "deleted",
  R: "renamed",
  C: "copied",
  T: "type_changed",
};

/**
 * Parses `git diff --raw --numstat -z` output into per-file changes. With -z,
 * raw records come first (":mode mode sha sha STATUS\0path\0[newpath\0]") and
 * numstat records follow ("adds\tdels\tpath\0" or "adds\tdels\t\0old\0new\0").
 */
export function parseRawNumstat(output: string): FileChange[] {
  const parts = output.split("\0");
  const files: FileChange[] = [];
  let i = 0;
  while (i < parts.length && (parts[i] ?? "").startsWith(":")) {
    const meta = (parts[i] ?? "").split(" ");
    const code = (meta[4] ?? "M").charAt(0);
    const status = STATUS[code] ?? "modified";
    if (code === "R" || code === "C") {
      files.push({
        path: parts[i + 2] ?? "",
        oldPath: parts[i + 1] ?? "",
        status,
        additions: 0,
        deletions: 0,
        binary: false,
      });
      i += 3;
    } else {
      files.push({ path: parts[i + 1] ?? "", status, additions: 0, deletions: 0, binary: false });
      i += 2;
    }
  }
  let index = 0;
  while (i < parts.length && index < files.length) {
    const record = parts[i] ?? "";
    if (record === "") {
      i += 1;
      continue;
    }
    const [adds, dels, path] = record.split("\t");
    const file = files[index];
    if (file) {
      file.binary = adds === "-";
      file.additions = adds === "-" ? 0 : Number(adds);
      file.deletions = dels === "-" ? 0 : Number(dels);
    }
    // Renames and copies put "" as path and then old and new paths in the next two parts.
    i += path === "" ? 3 : 1;
    index += 1;
  }
  return files;
}

/** The blob ids of each `--raw` record, in the order of `parseRawNumstat`'s files. */
function rawBlobs(output: string): Array<{ src: string; dst: string }> {
  const parts = output.split("\0");
  const blobs: Array<{ src: string; dst: string }> = [];
  let i = 0;
  while (i < parts.length && (parts[i] ?? "").startsWith(":")) {
    const meta = (parts[i] ?? "").split(" ");
    blobs.push({ src: meta[2] ?? "", dst: meta[3] ?? "" });
    const code = (meta[4] ?? "M").charAt(0);
    i += code === "R" || code === "C" ? 3 : 2;
  }
  return blobs;
}

const NO_BLOB = /^0+$/;

/** Sets `bytes` on the binary files (the new side; the old one for a deletion), with one `git cat-file --batch-check` for all. */
async function sizeBinaries(
  root: string,
  files: FileChange[],
  blobs: Array<{ src: string; dst: string }>,
): Promise<void> {
  const wanted = new Map<FileChange, string>();
  for (const [index, file] of files.entries()) {
    const blob = blobs[index];
    const sha = blob && !NO_BLOB.test(blob.dst) ? blob.dst : blob?.src;
    if (file.binary && sha && !NO_BLOB.test(sha)) wanted.set(file, sha);
  }
  if (wanted.size === 0) return;
  const answer = await gitCapped(
    root,
    ["cat-file", "--batch-check=%(objectname) %(objectsize)"],
    1024 * 1024,
    `${[...wanted.values()].join("\n")}\n`,
  ).catch(() => null);
  const sizes = new Map(
    (answer?.stdout.toString("utf8") ?? "").split("\n").map((line) => line.split(" ") as [string, string]),
  );
  for (const [file, sha] of wanted) {
    const size = Number(sizes.get(sha));
    if (Number.isFinite(size)) file.bytes = size;
  }
}

/**
 * The change from `baseSha` to `headSha` in a repository, with per-file counts.
 * The patch is read only up to `maxBytes` (git is stopped there, so a 50 MB
 * change costs neither the memory nor the time), cut after the last whole
 * file, and ends with a note naming the files left out. Binary files never
 * show their content: their line says "binary file, N bytes".
 */
export async function diffCommits(
  root: string,
  baseSha: string,
  headSha: string,
  maxBytes = 2 * 1024 * 1024,
): Promise<RunDiff> {
  // Fixed output whatever the user's config says: no external diff tools, no textconv, a/ b/ prefixes.
  const fixed = ["--no-ext-diff", "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/"];
  const unquoted = ["-c", "core.quotePath=false"];
  const raw = await git(root, ["diff", ...fixed, "--raw", "--numstat", "-z", "-M", "--no-abbrev", baseSha, headSha], {
    trim: false,
  });
  const files = parseRawNumstat(raw);
  await sizeBinaries(root, files, rawBlobs(raw));
  const read = await gitCapped(root, [...unquoted, "diff", ...fixed, "-M", "--no-color", baseSha, headSha], maxBytes);
  let patch = read.stdout.toString("utf8");
  // Keep whole files; when even the first is larger than the limit, keep its first lines.
  const lastFile = read.cut ? patch.lastIndexOf("\ndiff --git ") : -1;
  const partialFirst = read.cut && lastFile <= 0;
  if (read.cut) patch = partialFirst ? patch.slice(0, patch.lastIndexOf("\n") + 1) : patch.slice(0, lastFile + 1);
  // One section per file, in the order of `files` (git diff and --raw agree on it).
  const sections = patch.split(/(?=^diff --git )/m).filter((section) => section.startsWith("diff --git "));
  patch = sections
    .map((section, i) => {
      const file = files[i];
      if (!file?.binary) return section;
      return section.replace(
        /^(Binary files .* differ)$/m,
        `$1 (binary file, ${file.bytes === undefined ? "size unknown" : `${file.bytes} bytes`})`,
      );
    })
    .join("");
  if (read.cut) {
    const omitted = files.slice(partialFirst ? 0 : sections.length).map((f) => f.path);
    const names = omitted.slice(0, 20).join(", ") + (omitted.length > 20 ? ` and ${omitted.length - 20} more` : "");
    const what = partialFirst
      ? `${omitted.length} file${omitted.length === 1 ? "" : "s"} not shown in full`
      : `${omitted.length} file${omitted.length === 1 ? "" : "s"} not shown`;
    patch += `… diff cut at ${formatBytes(maxBytes)}: ${what} (${names}); the full change is on the run's branch.\n`;
  }
  return {
    files,
    additions: files.reduce((n, f) => n + f.additions, 0),
    deletions: files.reduce((n, f) => n + f.deletions, 0),
    patch,
    truncated: read.cut,
  };
}

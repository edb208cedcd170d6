import { git } from "./git.ts";

export interface FileChange {
  path: string;
  /** Former path for renames. */
  oldPath?: string;
  status: "added" | "modified" | "deleted" | "renamed" | "copied" | "type_changed";
  additions: number;
  deletions: number;
  binary: boolean;
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
      files.push({ path: parts[i + 2] ?? "", oldPath: parts[i + 1] ?? "", status, additions: 0, deletions: 0, binary: false });
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

/** The change from `baseSha` to `headSha` in a repository, with per-file counts. */
export async function diffCommits(root: string, baseSha: string, headSha: string, maxBytes = 2 * 1024 * 1024): Promise<RunDiff> {
  // Fixed output whatever the user's config says: no external diff tools, no textconv, a/ b/ prefixes.
  const fixed = ["--no-ext-diff", "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/"];
  const unquoted = ["-c", "core.quotePath=false"];
  const raw = await git(root, ["diff", ...fixed, "--raw", "--numstat", "-z", "-M", baseSha, headSha], { trim: false });
  const files = parseRawNumstat(raw);
  let patch = await git(root, [...unquoted, "diff", ...fixed, "-M", "--no-color", baseSha, headSha], { trim: false, maxBuffer: 512 * 1024 * 1024 });
  let truncated = false;
  if (Buffer.byteLength(patch) > maxBytes) {
    patch = `${Buffer.from(patch).subarray(0, maxBytes).toString("utf8")}\n… diff cut at ${maxBytes} bytes; the full change is on the run's branch.\n`;
    truncated = true;
  }
  return {
    files,
    additions: files.reduce((n, f) => n + f.additions, 0),
    deletions: files.reduce((n, f) => n + f.deletions, 0),
    patch,
    truncated,
  };
}

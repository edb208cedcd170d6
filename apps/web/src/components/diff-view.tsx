"use client";

import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import type { FileChange } from "@loopy/core/diff";
import { useTRPC } from "~/trpc/client";
import { Panel } from "./field";

interface FilePatch {
  path: string;
  lines: string[];
}

/** Splits a unified diff into per-file chunks, keyed by the new path. */
function splitPatch(patch: string): FilePatch[] {
  const files: FilePatch[] = [];
  for (const line of patch.split("\n")) {
    if (line.startsWith("diff --git ")) {
      const match = / b\/(.*)$/.exec(line);
      files.push({ path: match?.[1] ?? line, lines: [] });
      continue;
    }
    const current = files[files.length - 1];
    if (current && !/^(index |similarity |rename |new file mode|deleted file mode|old mode|new mode)/.test(line)) current.lines.push(line);
  }
  return files;
}

function lineClass(line: string): string {
  if (line.startsWith("+++") || line.startsWith("---")) return "text-gray-500";
  if (line.startsWith("+")) return "bg-emerald-500/10 text-emerald-200";
  if (line.startsWith("-")) return "bg-red-500/10 text-red-200";
  if (line.startsWith("@@")) return "text-sky-300/80 bg-sky-500/5";
  return "text-gray-300";
}

const STATUS_LETTER: Record<FileChange["status"], string> = {
  added: "A",
  modified: "M",
  deleted: "D",
  renamed: "R",
  copied: "C",
  type_changed: "T",
};

export function DiffView({ runId, status }: { runId: string; status: string }) {
  const trpc = useTRPC();
  const diff = useQuery(trpc.runs.diff.queryOptions({ runId }));
  const files = (diff.data?.diffStats ?? []) as FileChange[];
  const patches = useMemo(() => splitPatch(diff.data?.diff ?? ""), [diff.data?.diff]);

  if (!diff.data || diff.data.diff === null) {
    return (
      <Panel title="Diff">
        <p className="text-sm text-gray-500">{status === "queued" || status === "running" ? "The diff appears when the run ends." : "No diff was recorded."}</p>
      </Panel>
    );
  }
  const additions = files.reduce((n, f) => n + f.additions, 0);
  const deletions = files.reduce((n, f) => n + f.deletions, 0);
  return (
    <Panel
      title="Diff"
      actions={
        <span className="font-mono text-xs">
          {files.length} file{files.length === 1 ? "" : "s"} <span className="text-emerald-400">+{additions}</span>{" "}
          <span className="text-red-400">−{deletions}</span>
        </span>
      }
    >
      {files.length === 0 ? (
        <p className="text-sm text-gray-400">The run changed no files.</p>
      ) : (
        <div className="space-y-4" data-testid="diff">
          <ul className="divide-y divide-white/5 rounded-md border border-white/10 text-sm" data-testid="diff-files">
            {files.map((f) => (
              <li key={f.path} className="flex items-center gap-3 px-3 py-1.5">
                <span className="w-4 font-mono text-xs text-gray-500">{STATUS_LETTER[f.status]}</span>
                <a href={`#file-${encodeURIComponent(f.path)}`} className="flex-1 truncate font-mono text-xs text-gray-200 hover:underline">
                  {f.oldPath ? `${f.oldPath} → ` : ""}
                  {f.path}
                </a>
                {f.binary ? (
                  <span className="text-xs text-gray-500">binary</span>
                ) : (
                  <span className="font-mono text-xs">
                    <span className="text-emerald-400">+{f.additions}</span> <span className="text-red-400">−{f.deletions}</span>
                  </span>
                )}
              </li>
            ))}
          </ul>
          {patches.map((p) => (
            <div key={p.path} id={`file-${encodeURIComponent(p.path)}`} className="overflow-hidden rounded-md border border-white/10">
              <div className="border-b border-white/10 bg-white/5 px-3 py-1.5 font-mono text-xs text-gray-200">{p.path}</div>
              <pre className="overflow-x-auto bg-black/30 py-1 font-mono text-xs leading-5">
                {p.lines.map((line, i) => (
                  <div key={i} className={`px-3 ${lineClass(line)}`}>
                    {line || " "}
                  </div>
                ))}
              </pre>
            </div>
          ))}
        </div>
      )}
    </Panel>
  );
}

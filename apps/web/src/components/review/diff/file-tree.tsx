import type { FileChange } from "@loopy/core/shared";
import { memo } from "react";
import type { FilePatch, TreeNode } from "./diff-lines";

const STATUS_LETTER: Record<FileChange["status"], string> = {
  added: "A",
  modified: "M",
  deleted: "D",
  renamed: "R",
  copied: "C",
  type_changed: "T",
};

/** A file's additions and deletions, green and red. */
export function ChangeCount({ additions, deletions }: { additions: number; deletions: number }) {
  return (
    <>
      <span className="text-emerald-400">+{additions}</span> <span className="text-red-400">−{deletions}</span>
    </>
  );
}

/** The changed files as a folder tree; the current file is marked, a click goes to a file. */
export const FileTree = memo(function FileTree(props: {
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
        const file = node.file;
        const patch = patches[file]!;
        const stat = stats.get(patch.path);
        return (
          <li key={`f:${file}`}>
            <button
              type="button"
              data-file={file}
              onClick={() => onPick(file)}
              aria-current={file === current ? "true" : undefined}
              className={`flex w-full items-center gap-2 py-0.5 pr-2 text-left font-mono hover:bg-white/5 ${file === current ? "bg-sky-500/10 text-white" : "text-gray-300"}`}
              style={{ paddingLeft: 8 + depth * 12 }}
              title={patch.path}
            >
              <span className="w-3 shrink-0 text-gray-500">{stat ? STATUS_LETTER[stat.status] : ""}</span>
              <span className="flex-1 truncate">{node.name}</span>
              {stat && !stat.binary && (
                <span className="shrink-0">
                  <ChangeCount additions={stat.additions} deletions={stat.deletions} />
                </span>
              )}
            </button>
          </li>
        );
      })}
    </ul>
  );
});

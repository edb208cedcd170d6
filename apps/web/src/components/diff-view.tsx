"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useMemo, useState } from "react";
import type { FileChange } from "@loopy/core/diff";
import { useTRPC } from "~/trpc/client";
import { parsePatch, type DiffLine } from "./diff-lines";
import { ErrorNote, Panel } from "./field";

const STATUS_LETTER: Record<FileChange["status"], string> = {
  added: "A",
  modified: "M",
  deleted: "D",
  renamed: "R",
  copied: "C",
  type_changed: "T",
};

const LINE_STYLE: Record<DiffLine["kind"], string> = {
  add: "bg-emerald-500/10 text-emerald-100",
  del: "bg-red-500/10 text-red-200",
  ctx: "text-gray-300",
  hunk: "bg-sky-500/5 text-sky-300/80",
  meta: "text-gray-500",
};

interface Comment {
  id: string;
  path: string;
  line: number;
  body: string;
  status: string;
}

/**
 * The run's diff: files with +/− counts, then each file's unified diff with
 * line numbers. When the run is reviewable, clicking a line's number opens a
 * comment box; comments show under their line with their state.
 */
export function DiffView({ runId, status, activeFile }: { runId: string; status: string; activeFile?: number }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const whole = useQuery(trpc.runs.diff.queryOptions({ runId }));
  const turns = useQuery(trpc.runs.turns.queryOptions({ runId }));
  const [scope, setScope] = useState<number | "run">("run");
  const perTurn = useQuery({ ...trpc.runs.turnDiff.queryOptions({ runId, turnIndex: scope === "run" ? 0 : scope }), enabled: scope !== "run" });
  const diff = scope === "run" ? whole : perTurn;
  const comments = useQuery(trpc.review.comments.queryOptions({ runId }));
  // Comments attach to the whole run's diff (new-side lines of its latest version).
  const reviewable = (status === "awaiting_review" || status === "needs_attention") && scope === "run";
  const [composer, setComposer] = useState<{ path: string; line: number } | null>(null);
  const [draft, setDraft] = useState("");
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
  const files = (diff.data?.diffStats ?? []) as FileChange[];
  const patches = useMemo(() => parsePatch(diff.data?.diff ?? ""), [diff.data?.diff]);
  const byLine = useMemo(() => {
    const map = new Map<string, Comment[]>();
    for (const c of comments.data ?? []) {
      const key = `${c.path}:${c.line}`;
      map.set(key, [...(map.get(key) ?? []), c]);
    }
    return map;
  }, [comments.data]);

  const finishedTurns = (turns.data ?? []).filter((t) => t.headSha);
  const scopePicker = finishedTurns.length > 1 && (
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
  );

  if (!diff.data || diff.data.diff === null) {
    return (
      <Panel title="Diff">
        <p className="text-sm text-gray-500">{status === "queued" || status === "running" ? "The diff appears when the turn ends." : "No diff was recorded."}</p>
      </Panel>
    );
  }
  const additions = files.reduce((n, f) => n + f.additions, 0);
  const deletions = files.reduce((n, f) => n + f.deletions, 0);
  return (
    <Panel
      title="Diff"
      actions={
        <span className="flex items-center gap-3 font-mono text-xs">
          {scopePicker}
          <span>
            {files.length} file{files.length === 1 ? "" : "s"} <span className="text-emerald-400">+{additions}</span> <span className="text-red-400">−{deletions}</span>
          </span>
        </span>
      }
    >
      {files.length === 0 ? (
        <p className="text-sm text-gray-400">The run changed no files.</p>
      ) : (
        <div className="space-y-4" data-testid="diff">
          <ul className="divide-y divide-white/5 rounded-md border border-white/10 text-sm" data-testid="diff-files">
            {files.map((f, i) => (
              <li key={f.path} className={`flex items-center gap-3 px-3 py-1.5 ${activeFile === i ? "bg-white/5" : ""}`}>
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
          {reviewable && <p className="text-xs text-gray-500">Click a line number to comment on it; comments go to the agent with “Request changes”.</p>}
          {patches.map((p, i) => (
            <div
              key={p.path}
              id={`file-${encodeURIComponent(p.path)}`}
              data-testid="diff-file"
              className={`overflow-hidden rounded-md border ${activeFile === i ? "border-sky-400/50" : "border-white/10"}`}
            >
              <div className="border-b border-white/10 bg-white/5 px-3 py-1.5 font-mono text-xs text-gray-200">{p.path}</div>
              <table className="w-full border-collapse font-mono text-xs leading-5">
                <tbody>
                  {p.lines.map((line, j) => {
                    const key = line.newLine !== undefined ? `${p.path}:${line.newLine}` : null;
                    const here = key ? (byLine.get(key) ?? []) : [];
                    const open = composer && composer.path === p.path && composer.line === line.newLine;
                    return (
                      <Fragment key={j}>
                        <tr className={LINE_STYLE[line.kind]} data-kind={line.kind}>
                          <td className="w-10 select-none px-2 text-right text-gray-600">{line.oldLine ?? ""}</td>
                          <td className="w-10 select-none px-2 text-right">
                            {line.newLine !== undefined && reviewable ? (
                              <button
                                type="button"
                                data-testid={`line-${p.path}:${line.newLine}`}
                                className="text-gray-500 hover:text-sky-300"
                                title="Comment on this line"
                                onClick={() => setComposer({ path: p.path, line: line.newLine! })}
                              >
                                {line.newLine}
                              </button>
                            ) : (
                              <span className="text-gray-600">{line.newLine ?? ""}</span>
                            )}
                          </td>
                          <td className="w-4 select-none text-gray-500">{line.kind === "add" ? "+" : line.kind === "del" ? "−" : ""}</td>
                          <td className="whitespace-pre-wrap break-all pr-3">{line.text || " "}</td>
                        </tr>
                        {here.map((c) => (
                          <tr key={c.id}>
                            <td colSpan={4} className="px-3 py-1.5">
                              <div data-testid="review-comment" data-status={c.status} className="rounded-md border border-amber-400/30 bg-amber-500/5 px-3 py-2 font-sans text-sm text-amber-100">
                                <div className="mb-1 flex items-center justify-between text-xs text-amber-300/80">
                                  <span>
                                    comment · {c.status === "resolved" ? "resolved" : c.status === "sent" ? "sent to the agent" : "pending"}
                                  </span>
                                  {c.status === "pending" && (
                                    <button type="button" className="hover:text-red-300" onClick={() => remove.mutate({ commentId: c.id })}>
                                      delete
                                    </button>
                                  )}
                                </div>
                                <p className="whitespace-pre-wrap">{c.body}</p>
                              </div>
                            </td>
                          </tr>
                        ))}
                        {open && (
                          <tr>
                            <td colSpan={4} className="px-3 py-2">
                              <form
                                className="space-y-2 font-sans"
                                onSubmit={(e) => {
                                  e.preventDefault();
                                  add.mutate({ runId, path: p.path, line: composer.line, body: draft });
                                }}
                              >
                                <textarea
                                  autoFocus
                                  aria-label="Comment"
                                  value={draft}
                                  onChange={(e) => setDraft(e.target.value)}
                                  onKeyDown={(e) => {
                                    if (e.key === "Escape") setComposer(null);
                                    if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) add.mutate({ runId, path: p.path, line: composer.line, body: draft });
                                  }}
                                  className="min-h-20 w-full rounded-md border border-white/10 bg-black/40 p-2 text-sm text-gray-100"
                                  placeholder={`Comment on ${p.path}:${composer.line}`}
                                />
                                <ErrorNote message={add.error?.message} />
                                <div className="flex gap-2">
                                  <button type="submit" className="rounded-md bg-amber-500 px-3 py-1 text-xs font-medium text-black hover:bg-amber-400">
                                    Add comment
                                  </button>
                                  <button type="button" className="px-2 text-xs text-gray-400" onClick={() => setComposer(null)}>
                                    Cancel
                                  </button>
                                </div>
                              </form>
                            </td>
                          </tr>
                        )}
                      </Fragment>
                    );
                  })}
                </tbody>
              </table>
            </div>
          ))}
        </div>
      )}
    </Panel>
  );
}

"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTRPC } from "~/trpc/client";
import { formatTime } from "~/components/shared/elapsed";
import { ErrorNote, inputClass } from "~/components/ui/field";
import { Button } from "~/components/ui/button";

/** The project's shared memory: what every agent reads first; people edit it, agents add notes. */
export function ProjectMemory({ project }: { project: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const memory = useQuery(trpc.projects.memory.queryOptions({ project }));
  const [text, setText] = useState("");
  useEffect(() => setText(memory.data?.current?.content ?? ""), [memory.data?.current?.content]);
  const save = useMutation(
    trpc.projects.saveMemory.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.projects.memory.queryKey({ project }) }),
    }),
  );
  return (
    <div className="space-y-2">
      <label className="block space-y-1">
        <span className="text-xs font-medium uppercase tracking-wide text-gray-400">
          Memory (every agent on this project reads it first)
        </span>
        <textarea
          aria-label="Project memory"
          className={`${inputClass} min-h-32 font-mono text-xs`}
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="Conventions, learnings, what failed before. Agents add notes by writing LOOPY_NOTES.md in their worktree."
        />
      </label>
      <div className="flex items-center gap-3">
        <Button onClick={() => save.mutate({ project, content: text })}>Save memory</Button>
        <span className="text-xs text-gray-500">
          {memory.data?.current ? `version ${memory.data.current.version}` : "empty"}
        </span>
      </div>
      <ErrorNote message={save.error?.message} />
      {(memory.data?.versions.length ?? 0) > 0 && (
        <details className="text-xs text-gray-400">
          <summary className="cursor-pointer">History</summary>
          <ul className="mt-1 space-y-1" data-testid="memory-history">
            {memory.data?.versions.map((v) => (
              <li key={v.version}>
                v{v.version} ·{" "}
                {v.author.startsWith("run:") ? (
                  <a className="text-sky-300 hover:underline" href={`/runs/${v.author.slice(4)}`}>
                    {v.author}
                  </a>
                ) : (
                  v.author
                )}{" "}
                · {formatTime(v.createdAt)}
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}

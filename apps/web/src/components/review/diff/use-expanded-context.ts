import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useRef, useState } from "react";
import { useTRPC } from "~/trpc/client";
import type { FilePatch, Gap } from "./diff-lines";
import { type Expanded, gapKey } from "./use-diff-rows";

/** Unchanged lines fetched per click on "expand". */
export const EXPAND_STEP = 100;

const NONE: Expanded = {};

/**
 * The unchanged lines the reviewer expanded, for the diff's current version (`toCommit`): another version
 * starts with none. `expand` fetches the next EXPAND_STEP lines of a gap; it is stable, so cached rows keep it.
 */
export function useExpandedContext(runId: string, toCommit: string | null) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [state, setState] = useState<{ commit: string | null; expanded: Expanded }>({ commit: null, expanded: NONE });
  const expanded = state.commit === toCommit ? state.expanded : NONE;
  const [error, setError] = useState<string | null>(null);
  // What "expand" reads must be current, not what a cached row closed over.
  const latest = useRef({ expanded, toCommit });
  latest.current = { expanded, toCommit };

  const expand = useCallback(
    async (patch: FilePatch, gap: Gap) => {
      const { expanded, toCommit } = latest.current;
      const key = gapKey(patch.path, gap);
      const have = expanded[key]?.lines ?? [];
      const start = gap.start + have.length;
      const end = gap.end === null ? start + EXPAND_STEP - 1 : Math.min(gap.end, start + EXPAND_STEP - 1);
      if (!toCommit) return;
      setError(null);
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
        setState((prev) => {
          const base = prev.commit === toCommit ? prev.expanded : NONE;
          const joined = [...(base[key]?.lines ?? []), ...lines];
          return { commit: toCommit, expanded: { ...base, [key]: { lines: joined, done } } };
        });
      } catch (e) {
        setError((e as Error).message);
      }
    },
    [queryClient, trpc, runId],
  );
  return { expanded, expand, error };
}

"use client";

import { useQuery } from "@tanstack/react-query";
import { formatDuration } from "@loopy/config/duration";
import { useTRPC } from "~/trpc/client";
import { Panel } from "~/components/ui/panel";

const KIND_LABEL: Record<string, string> = {
  initial: "task",
  checkpoint_feedback: "checkpoint feedback",
  review_feedback: "review feedback",
};

/** The run's turns, each with the checkpoint results that followed it. */
export function ChecksPanel({ runId }: { runId: string }) {
  const trpc = useTRPC();
  const turns = useQuery(trpc.runs.turns.queryOptions({ runId }));
  const checks = useQuery(trpc.runs.checks.queryOptions({ runId }));
  if (!turns.data || turns.data.length === 0) return null;
  return (
    <Panel title="Turns and checkpoints">
      <ol className="space-y-3" data-testid="turns">
        {turns.data.map((turn) => {
          const results = (checks.data ?? []).filter((c) => c.turnIndex === turn.index);
          return (
            <li key={turn.index} className="rounded-md border border-white/10 p-3" data-testid="turn">
              <div className="flex flex-wrap items-center gap-x-3 gap-y-1 text-sm">
                <span className="font-medium text-gray-100">Turn {turn.index + 1}</span>
                <span className="text-xs text-gray-400">{KIND_LABEL[turn.kind] ?? turn.kind}</span>
                <span className="text-xs text-gray-500">
                  {turn.status === "done" ? (turn.reason ?? "finished") : turn.status}
                </span>
                {turn.startedAt && turn.finishedAt && (
                  <span className="text-xs text-gray-500">
                    {formatDuration(turn.finishedAt.getTime() - turn.startedAt.getTime())}
                  </span>
                )}
                {turn.inputTokens + turn.outputTokens > 0 && (
                  <span className="text-xs text-gray-500">
                    {turn.inputTokens + turn.outputTokens} tokens{turn.costUsd ? ` · $${turn.costUsd.toFixed(4)}` : ""}
                  </span>
                )}
              </div>
              {turn.kind !== "initial" && (
                <details className="mt-1 text-xs text-gray-400">
                  <summary className="cursor-pointer">message sent to the agent</summary>
                  <pre className="mt-1 whitespace-pre-wrap rounded bg-black/30 p-2">{turn.prompt}</pre>
                </details>
              )}
              {results.length > 0 && (
                <ul className="mt-2 space-y-1">
                  {results.map((c) => (
                    <li key={c.id} data-testid="checkpoint-result" data-passed={c.passed}>
                      <details>
                        <summary className="flex cursor-pointer items-center gap-2 text-sm">
                          <span
                            className={c.passed ? "text-emerald-400" : c.required ? "text-red-400" : "text-amber-300"}
                          >
                            {c.passed ? "✓" : "✗"}
                          </span>
                          <span className="text-gray-200">{c.name}</span>
                          <span className="text-xs text-gray-500">{c.kind.replace("_", " ")}</span>
                          {!c.required && <span className="text-xs text-gray-500">optional</span>}
                          {c.counts && (
                            <span className="text-xs text-gray-400">
                              {(c.counts as { passed?: number }).passed ?? 0} passed,{" "}
                              {(c.counts as { failed?: number }).failed ?? 0} failed
                            </span>
                          )}
                          <span className="text-xs text-gray-500">{formatDuration(c.durationMs)}</span>
                        </summary>
                        <pre className="mt-1 max-h-64 overflow-auto whitespace-pre-wrap rounded bg-black/40 p-2 font-mono text-xs text-gray-300">
                          {c.output}
                        </pre>
                      </details>
                    </li>
                  ))}
                </ul>
              )}
            </li>
          );
        })}
      </ol>
    </Panel>
  );
}

/** Lines of a failing checkpoint's output shown at the top of the run: where the error usually is. */
const TAIL_LINES = 20;

/** The required checkpoints that failed on the run's last checked turn: what keeps it from being approved. */
export function useFailingCheckpoints(runId: string) {
  const trpc = useTRPC();
  const checks = useQuery(trpc.runs.checks.queryOptions({ runId }));
  const results = checks.data ?? [];
  const last = Math.max(-1, ...results.map((c) => c.turnIndex));
  return results.filter((c) => c.turnIndex === last && c.required && !c.passed);
}

/**
 * The failing checkpoints and the end of their output, at the top of a run
 * that waits for a human, so the reason it cannot be approved is the first
 * thing on the page and not folded away in the turns below.
 */
export function FailingCheckpoints({ runId }: { runId: string }) {
  const failing = useFailingCheckpoints(runId);
  if (failing.length === 0) return null;
  return (
    <section
      data-testid="failing-checkpoints"
      className="space-y-3 rounded-lg border border-red-400/40 bg-red-500/10 p-4"
    >
      {failing.map((c) => {
        const lines = c.output.replace(/\s+$/, "").split("\n");
        const tail = lines.slice(-TAIL_LINES);
        return (
          <div key={c.id} data-testid="failing-checkpoint" className="space-y-1.5">
            <h2 className="text-sm font-medium text-red-200">
              ✗ Checkpoint <span className="font-mono">{c.name}</span> failed
              <span className="ml-2 text-xs font-normal text-red-300/70">
                turn {c.turnIndex + 1} · {formatDuration(c.durationMs)}
                {lines.length > TAIL_LINES ? ` · last ${TAIL_LINES} of ${lines.length} lines` : ""}
              </span>
            </h2>
            {c.output.trim() ? (
              <pre className="overflow-auto whitespace-pre-wrap break-all rounded bg-black/50 p-2 font-mono text-xs leading-5 text-red-100">
                {tail.join("\n")}
              </pre>
            ) : (
              <p className="text-xs text-red-300/70">It printed nothing.</p>
            )}
          </div>
        );
      })}
    </section>
  );
}

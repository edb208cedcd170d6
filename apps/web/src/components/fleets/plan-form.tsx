"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { useTRPC } from "~/trpc/client";
import { Button } from "~/components/ui/button";
import { ErrorNote, Field, inputClass } from "~/components/ui/field";
import { DagGraph } from "./dag-graph";

interface Subtask {
  key: string;
  title?: string;
  prompt?: string;
  command?: string;
  agent?: string;
  dependsOn?: string[];
}

const EXAMPLE = JSON.stringify(
  {
    subtasks: [
      { key: "schema", title: "Add the table", prompt: "Add a migration for the invoices table" },
      { key: "api", title: "Expose it", prompt: "Add GET /invoices", dependsOn: ["schema"] },
      { key: "ui", title: "Show it", prompt: "List invoices on the dashboard", dependsOn: ["api"] },
    ],
  },
  null,
  2,
);

function readPlan(text: string): { subtasks: Subtask[] } | { error: string } {
  if (!text.trim()) return { error: "Write a plan, or ask a planner agent for one." };
  try {
    const value = JSON.parse(text) as unknown;
    const subtasks = Array.isArray(value) ? value : (value as { subtasks?: unknown }).subtasks;
    if (!Array.isArray(subtasks)) return { error: 'The plan needs a "subtasks" list.' };
    return { subtasks: subtasks as Subtask[] };
  } catch (error) {
    return { error: `Not JSON: ${(error as Error).message}` };
  }
}

/**
 * A task split into subtasks with dependencies: written by hand (JSON, drawn
 * as you type) or by a planner agent, then launched; each subtask starts once
 * those it depends on are approved, from the branch that holds their work.
 */
export function PlanForm({
  project,
  agent,
  common,
}: {
  project: string;
  agent: string;
  common: { concurrency?: number; budget?: { usd?: number; wallClock?: string } };
}) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const [text, setText] = useState("");
  const [task, setTask] = useState("");
  const [plannerRunId, setPlannerRunId] = useState<string | null>(null);
  const startPlanner = useMutation(
    trpc.fleets.startPlanner.mutationOptions({ onSuccess: (run) => setPlannerRunId(run.id) }),
  );
  const plan = useQuery(
    trpc.fleets.plan.queryOptions(
      { runId: plannerRunId ?? "" },
      { enabled: plannerRunId !== null, refetchInterval: (q) => (q.state.data?.state === "planning" ? 1000 : false) },
    ),
  );
  useEffect(() => {
    if (plan.data?.state === "ready") setText(JSON.stringify({ subtasks: plan.data.subtasks }, null, 2));
  }, [plan.data]);
  const launch = useMutation(
    trpc.fleets.launch.mutationOptions({
      onSuccess: async (fleet) => {
        await queryClient.invalidateQueries({ queryKey: trpc.fleets.pathKey() });
        router.push(`/fleets/${fleet.id}`);
      },
    }),
  );
  const parsed = useMemo(() => readPlan(text), [text]);
  const nodes =
    "subtasks" in parsed
      ? parsed.subtasks
          .filter((s) => s && typeof s.key === "string")
          .map((s) => ({
            id: s.key,
            label: s.title ? `${s.key}: ${s.title}` : s.key,
            dependsOn: Array.isArray(s.dependsOn) ? s.dependsOn : [],
          }))
      : [];

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!("subtasks" in parsed)) return;
    launch.mutate({
      kind: "dag",
      project,
      agent,
      subtasks: parsed.subtasks,
      ...(plannerRunId && plan.data?.state === "ready" ? { plannerRunId } : {}),
      ...common,
    });
  }

  return (
    <div className="flex flex-col gap-3">
      <div className="grid grid-cols-[1fr_auto] items-end gap-2 rounded-md border border-white/10 p-3">
        <Field
          label="Ask a planner"
          hint="The chosen agent reads the repository and proposes subtasks (loopy.plan.json); you edit the plan before launching it."
        >
          <textarea
            aria-label="Task to split"
            className={`${inputClass} min-h-16`}
            value={task}
            onChange={(e) => setTask(e.target.value)}
            placeholder="What should be done, as you would brief a team"
          />
        </Field>
        <Button
          size="lg"
          disabled={!task.trim() || startPlanner.isPending || plan.data?.state === "planning"}
          onClick={() => startPlanner.mutate({ project, agent, task })}
        >
          {plan.data?.state === "planning" ? "Planning…" : "Plan it"}
        </Button>
      </div>
      <ErrorNote
        message={
          startPlanner.error?.message ??
          (plan.data?.state === "failed" ? `The planner gave no plan: ${plan.data.error}` : undefined)
        }
      />
      <form onSubmit={submit} className="flex flex-col gap-3" aria-label="Plan">
        <Field
          label="Plan"
          hint='JSON: { "subtasks": [{ "key", "title", "prompt" (or "command"), "agent"?, "dependsOn": [keys] }] }'
        >
          <textarea
            aria-label="Plan JSON"
            className={`${inputClass} min-h-48 font-mono text-xs`}
            value={text}
            onChange={(e) => setText(e.target.value)}
            placeholder={EXAMPLE}
          />
        </Field>
        {"error" in parsed ? (
          text.trim() && <p className="text-xs text-amber-300">{parsed.error}</p>
        ) : (
          <DagGraph nodes={nodes} />
        )}
        <ErrorNote message={launch.error?.message} />
        <div className="flex justify-end">
          <Button size="lg" type="submit" disabled={launch.isPending || !("subtasks" in parsed)}>
            {launch.isPending ? "Launching…" : "Launch plan"}
          </Button>
        </div>
      </form>
    </div>
  );
}

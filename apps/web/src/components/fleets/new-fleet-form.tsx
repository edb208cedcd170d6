"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { useTRPC } from "~/trpc/client";
import { toggled } from "~/components/review/diff/diff-lines";
import { Button, Segmented } from "~/components/ui/button";
import { ErrorNote, Field, inputClass } from "~/components/ui/field";
import { Panel } from "~/components/ui/panel";
import { PlanForm } from "./plan-form";
import { ResearchFleetForm } from "./research-fleet-form";
import { Select } from "~/components/ui/select";

const KINDS = [
  ["best_of_n", "Best of N"],
  ["batch", "Batch"],
  ["dag", "Decompose"],
  ["research", "Research"],
] as const;

/**
 * Launches a fleet. Best of N: one task, N members, the ticked agents taking
 * turns (say Claude Code and a local model, 2 each). Batch: the same task on
 * every ticked project, one member each. Every member's processes see
 * LOOPY_FLEET_ID and LOOPY_MEMBER_INDEX.
 */
export function NewFleetForm() {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const projects = useQuery(trpc.projects.list.queryOptions());
  const profiles = useQuery(trpc.profiles.list.queryOptions());
  const [kind, setKind] = useState<"best_of_n" | "batch" | "dag" | "research">("best_of_n");
  const [project, setProject] = useState("");
  const [batchProjects, setBatchProjects] = useState<ReadonlySet<string>>(new Set());
  const [agents, setAgents] = useState<ReadonlySet<string>>(new Set(["command"]));
  const [task, setTask] = useState("");
  const [count, setCount] = useState("3");
  const [concurrency, setConcurrency] = useState("4");
  const [budgetUsd, setBudgetUsd] = useState("");
  const [wallClock, setWallClock] = useState("");
  const [metric, setMetric] = useState("");
  const [direction, setDirection] = useState<"min" | "max">("min");
  const launch = useMutation(
    trpc.fleets.launch.mutationOptions({
      onSuccess: async (fleet) => {
        await queryClient.invalidateQueries({ queryKey: trpc.fleets.pathKey() });
        router.push(`/fleets/${fleet.id}`);
      },
    }),
  );

  const selected = project || projects.data?.[0]?.id || "";
  const chosen = [...agents];
  const onlyCommand = chosen.length === 1 && chosen[0] === "command";
  const common = {
    concurrency: concurrency ? Number(concurrency) : undefined,
    budget:
      budgetUsd || wallClock
        ? { usd: budgetUsd ? Number(budgetUsd) : undefined, wallClock: wallClock || undefined }
        : undefined,
  };

  function submit(event: FormEvent) {
    event.preventDefault();
    // A shell command for the `command` agent, a prompt for the others.
    const work = onlyCommand ? { command: task } : { prompt: task };
    if (kind === "best_of_n") {
      launch.mutate({
        kind,
        project: selected,
        agents: chosen,
        count: Number(count),
        ...work,
        ...(metric ? { metric: { name: metric, direction } } : {}),
        ...common,
      });
    } else {
      launch.mutate({
        kind: "batch",
        agent: chosen[0],
        tasks: [...batchProjects].map((p) => ({ project: p, ...work })),
        ...common,
      });
    }
  }

  if (projects.data && projects.data.length === 0) {
    return (
      <Panel title="New fleet">
        <p className="text-sm text-gray-400">
          No projects yet.{" "}
          <Link href="/projects" className="text-sky-300 underline">
            Register a git repository
          </Link>{" "}
          first.
        </p>
      </Panel>
    );
  }

  const ownForm = kind === "dag" || kind === "research";
  const Container = ownForm ? "div" : "form";
  const agentChoices = [
    { name: "command", label: "Shell command" },
    ...(profiles.data ?? []).map((p) => ({ name: p.name, label: `${p.name} (${p.adapter})` })),
  ];
  return (
    <Panel
      title="New fleet"
      actions={<Segmented label="Fleet kind" options={KINDS} value={kind} onChange={setKind} className="text-xs" />}
    >
      {/* Decompose and Research bring their own <form> (forms cannot nest): the shared fields sit in a plain container then. */}
      <Container
        {...(ownForm ? {} : { onSubmit: submit })}
        className="grid gap-4 md:grid-cols-[1fr_2fr]"
        aria-label="New fleet"
      >
        <div className="space-y-3">
          {kind !== "batch" ? (
            <Field label="Project">
              <Select aria-label="Project" value={selected} onChange={(e) => setProject(e.target.value)}>
                {projects.data?.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.name}
                  </option>
                ))}
              </Select>
            </Field>
          ) : (
            <fieldset className="space-y-1">
              <legend className="text-xs font-medium uppercase tracking-wide text-gray-400">
                Projects (one member each)
              </legend>
              {projects.data?.map((p) => (
                <label key={p.id} className="flex items-center gap-2 text-sm text-gray-200">
                  <input
                    type="checkbox"
                    checked={batchProjects.has(p.id)}
                    onChange={() => setBatchProjects((prev) => toggled(prev, p.id))}
                  />
                  {p.name}
                </label>
              ))}
            </fieldset>
          )}
          {kind !== "research" && (
            <fieldset className="space-y-1">
              <legend className="text-xs font-medium uppercase tracking-wide text-gray-400">
                {kind === "best_of_n"
                  ? "Agents (members take turns)"
                  : kind === "dag"
                    ? "Agent (planner, and subtasks that name none)"
                    : "Agent"}
              </legend>
              {agentChoices.map((a) => (
                <label key={a.name} className="flex items-center gap-2 text-sm text-gray-200">
                  <input
                    type={kind === "best_of_n" ? "checkbox" : "radio"}
                    name="fleet-agent"
                    aria-label={`Agent ${a.name}`}
                    checked={agents.has(a.name)}
                    onChange={() =>
                      setAgents((prev) => (kind === "best_of_n" ? toggled(prev, a.name) : new Set([a.name])))
                    }
                  />
                  {a.label}
                </label>
              ))}
            </fieldset>
          )}
          <div className="grid grid-cols-2 gap-3">
            {kind === "best_of_n" && (
              <Field label="Members">
                <input
                  aria-label="Members"
                  className={inputClass}
                  inputMode="numeric"
                  value={count}
                  onChange={(e) => setCount(e.target.value)}
                />
              </Field>
            )}
            <Field label="At once">
              <input
                aria-label="Concurrency"
                className={inputClass}
                inputMode="numeric"
                value={concurrency}
                onChange={(e) => setConcurrency(e.target.value)}
              />
            </Field>
            <Field label="Budget (USD)">
              <input
                aria-label="Budget USD"
                className={inputClass}
                inputMode="decimal"
                value={budgetUsd}
                onChange={(e) => setBudgetUsd(e.target.value)}
                placeholder="none"
              />
            </Field>
            <Field label="Wall clock">
              <input
                aria-label="Wall clock"
                className={inputClass}
                value={wallClock}
                onChange={(e) => setWallClock(e.target.value)}
                placeholder="e.g. 30m"
              />
            </Field>
          </div>
        </div>
        {kind === "research" ? (
          <ResearchFleetForm project={selected} common={common} />
        ) : kind === "dag" ? (
          <PlanForm project={selected} agent={chosen[0] ?? "command"} common={common} />
        ) : (
          <div className="flex flex-col gap-3">
            <Field
              label={onlyCommand ? "Command" : "Prompt"}
              hint={
                onlyCommand
                  ? "bash in each member's worktree; $LOOPY_MEMBER_INDEX tells members apart."
                  : "Each member gets the same task in its own worktree; checkpoints run after every turn."
              }
            >
              <textarea
                aria-label="Fleet task"
                className={`${inputClass} min-h-32 font-mono`}
                value={task}
                onChange={(e) => setTask(e.target.value)}
              />
            </Field>
            {kind === "best_of_n" && (
              <div className="grid grid-cols-[2fr_1fr] gap-3">
                <Field
                  label="Rank by metric (optional)"
                  hint="A checkpoint's 'name: value' output line; after green checks, before diff size and cost."
                >
                  <input
                    aria-label="Rank metric"
                    className={`${inputClass} font-mono`}
                    value={metric}
                    onChange={(e) => setMetric(e.target.value)}
                    placeholder="coverage"
                  />
                </Field>
                <Field label="Better">
                  <Select
                    aria-label="Rank direction"
                    value={direction}
                    onChange={(e) => setDirection(e.target.value as "min" | "max")}
                  >
                    <option value="min">lower</option>
                    <option value="max">higher</option>
                  </Select>
                </Field>
              </div>
            )}
            <ErrorNote message={launch.error?.message} />
            <div className="flex justify-end">
              <Button size="lg" type="submit" disabled={launch.isPending || agents.size === 0}>
                {launch.isPending ? "Launching…" : "Launch fleet"}
              </Button>
            </div>
          </div>
        )}
      </Container>
    </Panel>
  );
}

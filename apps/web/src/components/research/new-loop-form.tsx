"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { DEMO_LOOP, DEMO_PROJECT, DEMO_SPACE } from "@loopy/research-math/demo";
import { useTRPC } from "~/trpc/client";
import { Button } from "~/components/ui/button";
import { ErrorNote, Field, inputClass } from "~/components/ui/field";
import { Panel } from "~/components/ui/panel";
import { Select } from "~/components/ui/select";

const list = (text: string) =>
  text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * Starts a research loop: what to run, which metric to read and which way is
 * better, the budget per experiment, and who proposes the changes (an
 * optimizer over a search space, or an agent profile). The demo button starts
 * one on the built-in char-lm project in one click.
 */
export function NewLoopForm() {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const projects = useQuery(trpc.projects.list.queryOptions());
  const profiles = useQuery(trpc.profiles.list.queryOptions());
  const [project, setProject] = useState("");
  const [command, setCommand] = useState("");
  const [metric, setMetric] = useState("");
  const [direction, setDirection] = useState<"min" | "max">("min");
  const [budget, setBudget] = useState("5m");
  const [maxExperiments, setMaxExperiments] = useState("20");
  const [proposer, setProposer] = useState("tpe");
  const [space, setSpace] = useState("");
  const [editable, setEditable] = useState("");
  const [instructions, setInstructions] = useState("");
  const [slots, setSlots] = useState("");
  const [formError, setFormError] = useState<string | null>(null);
  const create = useMutation(
    trpc.research.create.mutationOptions({
      onSuccess: async (loop) => {
        await queryClient.invalidateQueries({ queryKey: trpc.research.list.queryKey() });
        router.push(`/research/${loop.id}`);
      },
    }),
  );

  const selected = project || projects.data?.[0]?.id || "";
  const demo = projects.data?.find((p) => p.name === DEMO_PROJECT);

  function submit(event: FormEvent) {
    event.preventDefault();
    setFormError(null);
    let parsedSpace: unknown;
    const agent = proposer.startsWith("profile:") ? proposer.slice("profile:".length) : null;
    if (!agent) {
      try {
        parsedSpace = JSON.parse(space);
      } catch (error) {
        setFormError(`The search space is not valid JSON: ${(error as Error).message}`);
        return;
      }
    }
    create.mutate({
      project: selected,
      command,
      metric,
      direction,
      budget,
      maxExperiments: maxExperiments ? Number(maxExperiments) : undefined,
      ...(agent ? { agent } : { optimizer: proposer as "random" | "tpe", space: parsedSpace }),
      editable: editable ? list(editable) : undefined,
      instructions: instructions || undefined,
      slots: slots ? list(slots) : undefined,
    });
  }

  if (projects.data && projects.data.length === 0) {
    return (
      <Panel title="New research loop">
        <p className="text-sm text-gray-400">
          No projects yet.{" "}
          <Link href="/projects" className="text-sky-300 underline">
            Register a git repository
          </Link>
          , or start Loopy with <code className="font-mono">npm start</code> to get the char-lm demo project.
        </p>
      </Panel>
    );
  }

  const usesSpace = proposer === "tpe" || proposer === "random";
  return (
    <Panel
      title="New research loop"
      actions={
        demo && (
          <Button tone="confirm" size="sm" disabled={create.isPending} onClick={() => create.mutate(DEMO_LOOP)}>
            Start the demo loop
          </Button>
        )
      }
    >
      {demo && (
        <p className="mb-4 text-xs text-gray-500">
          The demo tunes a tiny character-level language model ({DEMO_PROJECT}) with TPE: a baseline, two noise repeats,
          then {DEMO_LOOP.maxExperiments} candidates of {DEMO_LOOP.budget} each; lower{" "}
          <code className="font-mono">val_bpb</code> is better.{" "}
          <button
            type="button"
            className="text-sky-300 underline"
            onClick={() => {
              setProject(demo.id);
              setCommand(DEMO_LOOP.command);
              setMetric(DEMO_LOOP.metric);
              setDirection(DEMO_LOOP.direction);
              setBudget(DEMO_LOOP.budget);
              setMaxExperiments(String(DEMO_LOOP.maxExperiments));
              setProposer("tpe");
              setSpace(JSON.stringify(DEMO_SPACE, null, 2));
              setEditable(DEMO_LOOP.editable.join(", "));
              setInstructions(DEMO_LOOP.instructions);
            }}
          >
            Fill the form with it
          </button>{" "}
          to change something first.
        </p>
      )}
      <form onSubmit={submit} className="grid gap-4 md:grid-cols-2" aria-label="New research loop">
        <div className="space-y-3">
          <Field label="Project">
            <Select aria-label="Project" value={selected} onChange={(e) => setProject(e.target.value)}>
              {projects.data?.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </Select>
          </Field>
          <Field
            label="Experiment command"
            hint="Runs in the loop's worktree; prints JSON step lines and a final 'metric: value' line."
          >
            <input
              aria-label="Experiment command"
              className={`${inputClass} font-mono`}
              value={command}
              onChange={(e) => setCommand(e.target.value)}
              placeholder="node train.mjs"
            />
          </Field>
          <div className="grid grid-cols-3 gap-3">
            <Field label="Metric">
              <input
                aria-label="Metric"
                className={`${inputClass} font-mono`}
                value={metric}
                onChange={(e) => setMetric(e.target.value)}
                placeholder="val_bpb"
              />
            </Field>
            <Field label="Better">
              <Select
                aria-label="Direction"
                value={direction}
                onChange={(e) => setDirection(e.target.value as "min" | "max")}
              >
                <option value="min">lower</option>
                <option value="max">higher</option>
              </Select>
            </Field>
            <Field label="Budget">
              <input
                aria-label="Budget"
                className={inputClass}
                value={budget}
                onChange={(e) => setBudget(e.target.value)}
                placeholder="5m"
              />
            </Field>
          </div>
          <div className="grid grid-cols-2 gap-3">
            <Field label="Max experiments" hint="Candidates, after the baseline and its noise repeats.">
              <input
                aria-label="Max experiments"
                className={inputClass}
                inputMode="numeric"
                value={maxExperiments}
                onChange={(e) => setMaxExperiments(e.target.value)}
              />
            </Field>
            <Field label="Slots" hint="e.g. gpu0, gpu1">
              <input
                aria-label="Slots"
                className={`${inputClass} font-mono`}
                value={slots}
                onChange={(e) => setSlots(e.target.value)}
              />
            </Field>
          </div>
        </div>
        <div className="flex flex-col gap-3">
          <Field label="Proposer">
            <Select aria-label="Proposer" value={proposer} onChange={(e) => setProposer(e.target.value)}>
              <option value="tpe">TPE optimizer (search space)</option>
              <option value="random">Random search (search space)</option>
              {(profiles.data ?? []).length > 0 && (
                <optgroup label="Agent profiles (edit the code)">
                  {profiles.data?.map((p) => (
                    <option key={p.id} value={`profile:${p.name}`}>
                      {p.name} ({p.adapter})
                    </option>
                  ))}
                </optgroup>
              )}
            </Select>
          </Field>
          {usesSpace ? (
            <Field
              label="Search space"
              hint='JSON: {"lr": {"type": "log-float", "low": 1e-4, "high": 1e-1}, "layers": {"type": "int", "low": 1, "high": 8}}'
            >
              <textarea
                aria-label="Search space"
                className={`${inputClass} min-h-28 font-mono text-xs`}
                value={space}
                onChange={(e) => setSpace(e.target.value)}
              />
            </Field>
          ) : (
            <Field label="Instructions" hint="What the agent reads (autoresearch's program.md).">
              <textarea
                aria-label="Instructions"
                className={`${inputClass} min-h-28`}
                value={instructions}
                onChange={(e) => setInstructions(e.target.value)}
              />
            </Field>
          )}
          <Field label="Editable files" hint="Globs; every other file is protected.">
            <input
              aria-label="Editable files"
              className={`${inputClass} font-mono`}
              value={editable}
              onChange={(e) => setEditable(e.target.value)}
              placeholder="train.py, loopy.params.json"
            />
          </Field>
          <ErrorNote message={formError ?? create.error?.message} />
          <div className="flex justify-end">
            <Button size="lg" type="submit" disabled={create.isPending || !selected}>
              {create.isPending ? "Starting…" : "Start loop"}
            </Button>
          </div>
        </div>
      </form>
    </Panel>
  );
}

"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { useTRPC } from "~/trpc/client";
import { toggled } from "~/components/review/diff/diff-lines";
import { Button } from "~/components/ui/button";
import { ErrorNote, Field, inputClass } from "~/components/ui/field";
import { Select } from "~/components/ui/select";

/**
 * N research loops on one project: the same experiment, each loop with its
 * own seed (seed + member index) and the ticked proposers taking turns.
 */
export function ResearchFleetForm({
  project,
  common,
}: {
  project: string;
  common: { concurrency?: number; budget?: { usd?: number; wallClock?: string } };
}) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const profiles = useQuery(trpc.profiles.list.queryOptions());
  const [count, setCount] = useState("4");
  const [command, setCommand] = useState("node train.mjs");
  const [metric, setMetric] = useState("val_bpb");
  const [direction, setDirection] = useState<"min" | "max">("min");
  const [budget, setBudget] = useState("20s");
  const [maxExperiments, setMaxExperiments] = useState("8");
  const [space, setSpace] = useState("");
  const [proposers, setProposers] = useState<ReadonlySet<string>>(new Set(["tpe", "random"]));
  const [spaceError, setSpaceError] = useState<string | null>(null);
  const launch = useMutation(
    trpc.fleets.launch.mutationOptions({
      onSuccess: async (fleet) => {
        await queryClient.invalidateQueries({ queryKey: trpc.fleets.pathKey() });
        router.push(`/fleets/${fleet.id}`);
      },
    }),
  );

  function submit(event: FormEvent) {
    event.preventDefault();
    let parsed: unknown;
    if (space.trim()) {
      try {
        parsed = JSON.parse(space);
      } catch (error) {
        setSpaceError(`The search space is not JSON: ${(error as Error).message}`);
        return;
      }
    }
    setSpaceError(null);
    const chosen = [...proposers].map((p): { optimizer?: "tpe" | "random"; agent?: string } =>
      p === "tpe" || p === "random" ? { optimizer: p } : { agent: p },
    );
    launch.mutate({
      kind: "research",
      project,
      count: Number(count),
      research: {
        command,
        metric,
        direction,
        budget,
        maxExperiments: maxExperiments ? Number(maxExperiments) : undefined,
        ...(parsed === undefined ? {} : { space: parsed }),
        optimizer: "tpe",
      },
      proposers: chosen,
      ...common,
    });
  }

  const choices = [
    { name: "tpe", label: "TPE optimizer" },
    { name: "random", label: "Random search" },
    ...(profiles.data ?? []).map((p) => ({ name: p.name, label: `${p.name} (${p.adapter})` })),
  ];
  return (
    <form onSubmit={submit} className="flex flex-col gap-3" aria-label="Research fleet">
      <div className="grid grid-cols-3 gap-3">
        <Field label="Loops">
          <input
            aria-label="Loops"
            className={inputClass}
            inputMode="numeric"
            value={count}
            onChange={(e) => setCount(e.target.value)}
          />
        </Field>
        <Field label="Per experiment">
          <input
            aria-label="Experiment budget"
            className={inputClass}
            value={budget}
            onChange={(e) => setBudget(e.target.value)}
          />
        </Field>
        <Field label="Experiments per loop">
          <input
            aria-label="Experiments per loop"
            className={inputClass}
            inputMode="numeric"
            value={maxExperiments}
            onChange={(e) => setMaxExperiments(e.target.value)}
          />
        </Field>
      </div>
      <Field
        label="Experiment command"
        hint="Prints JSON step lines and, after ---, a summary line such as val_bpb: 0.99"
      >
        <input
          aria-label="Experiment command"
          className={`${inputClass} font-mono`}
          value={command}
          onChange={(e) => setCommand(e.target.value)}
        />
      </Field>
      <div className="grid grid-cols-[2fr_1fr] gap-3">
        <Field label="Metric">
          <input
            aria-label="Research metric"
            className={`${inputClass} font-mono`}
            value={metric}
            onChange={(e) => setMetric(e.target.value)}
          />
        </Field>
        <Field label="Better">
          <Select
            aria-label="Research direction"
            value={direction}
            onChange={(e) => setDirection(e.target.value as "min" | "max")}
          >
            <option value="min">lower</option>
            <option value="max">higher</option>
          </Select>
        </Field>
      </div>
      <fieldset className="space-y-1">
        <legend className="text-xs font-medium uppercase tracking-wide text-gray-400">
          Proposers (loops take turns; each loop gets its own seed)
        </legend>
        {choices.map((c) => (
          <label key={c.name} className="mr-4 inline-flex items-center gap-2 text-sm text-gray-200">
            <input
              type="checkbox"
              aria-label={`Proposer ${c.name}`}
              checked={proposers.has(c.name)}
              onChange={() => setProposers((prev) => toggled(prev, c.name))}
            />
            {c.label}
          </label>
        ))}
      </fieldset>
      <Field
        label="Search space (optimizers)"
        hint='JSON, e.g. {"lr": {"type": "log-float", "low": 0.0001, "high": 0.1}}'
      >
        <textarea
          aria-label="Search space"
          className={`${inputClass} min-h-20 font-mono text-xs`}
          value={space}
          onChange={(e) => setSpace(e.target.value)}
        />
      </Field>
      <ErrorNote message={spaceError ?? launch.error?.message} />
      <div className="flex justify-end">
        <Button size="lg" type="submit" disabled={launch.isPending || proposers.size === 0}>
          {launch.isPending ? "Launching…" : "Launch research fleet"}
        </Button>
      </div>
    </form>
  );
}

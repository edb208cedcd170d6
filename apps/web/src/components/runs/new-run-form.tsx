"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { useTRPC } from "~/trpc/client";
import { Button } from "~/components/ui/button";
import { ErrorNote, Field, inputClass } from "~/components/ui/field";
import { Panel } from "~/components/ui/panel";
import { Select } from "~/components/ui/select";

export function NewRunForm() {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const projects = useQuery(trpc.projects.list.queryOptions());
  const agents = useQuery(trpc.agents.list.queryOptions());
  const profiles = useQuery(trpc.profiles.list.queryOptions());
  const [agent, setAgent] = useState("command");
  const [project, setProject] = useState("");
  const [command, setCommand] = useState("");
  const [baseRef, setBaseRef] = useState("");
  const [timeout, setTimeoutValue] = useState("10m");
  const launch = useMutation(
    trpc.runs.launch.mutationOptions({
      onSuccess: async (run) => {
        await queryClient.invalidateQueries({ queryKey: trpc.runs.list.queryKey() });
        router.push(`/runs/${run.id}`);
      },
    }),
  );

  const selected = project || projects.data?.[0]?.id || "";
  const chosenProfile = profiles.data?.find((p) => p.name === agent);
  const adapterName = chosenProfile?.adapter ?? agent;
  const takesCommand = (agents.data?.find((a) => a.name === adapterName)?.takes ?? "command") === "command";
  const selectedProject = projects.data?.find((p) => p.id === selected);

  function submit(event: FormEvent) {
    event.preventDefault();
    launch.mutate({
      project: selected,
      agent,
      ...(takesCommand ? { command } : { prompt: command }),
      baseRef: baseRef || undefined,
      timeout: timeout || undefined,
    });
  }

  if (projects.data && projects.data.length === 0) {
    return (
      <Panel title="New run">
        <p className="text-sm text-gray-400">
          No projects yet.{" "}
          <Link href="/projects" className="text-sky-300 underline">
            Register a git repository
          </Link>{" "}
          to launch runs on it.
        </p>
      </Panel>
    );
  }

  return (
    <Panel title="New run">
      <form onSubmit={submit} className="grid gap-4 md:grid-cols-[1fr_2fr]" aria-label="New run">
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
          <Field label="Agent">
            <Select aria-label="Agent" value={agent} onChange={(e) => setAgent(e.target.value)}>
              <option value="command">Shell command</option>
              {(profiles.data ?? []).length > 0 && (
                <optgroup label="Agent profiles">
                  {profiles.data?.map((p) => (
                    <option key={p.id} value={p.name}>
                      {p.name} ({p.adapter})
                    </option>
                  ))}
                </optgroup>
              )}
            </Select>
          </Field>
          <div className="grid grid-cols-2 gap-3">
            <Field label="Base ref">
              <input
                aria-label="Base ref"
                className={inputClass}
                value={baseRef}
                onChange={(e) => setBaseRef(e.target.value)}
                placeholder={selectedProject?.defaultBranch ?? "default branch"}
              />
            </Field>
            <Field label="Timeout">
              <input
                aria-label="Timeout"
                className={inputClass}
                value={timeout}
                onChange={(e) => setTimeoutValue(e.target.value)}
                placeholder="10m"
              />
            </Field>
          </div>
        </div>
        <div className="flex flex-col gap-3">
          <Field
            label={takesCommand ? "Command" : "Prompt"}
            hint={
              takesCommand
                ? "Runs with bash in a fresh worktree on branch loopy/run-<id>; whatever it changes is committed, checked and diffed."
                : "The agent works in a fresh worktree on branch loopy/run-<id>; checkpoints run after every turn, then the diff waits for your review."
            }
          >
            <textarea
              aria-label={takesCommand ? "Command" : "Prompt"}
              className={`${inputClass} min-h-28 font-mono`}
              value={command}
              onChange={(e) => setCommand(e.target.value)}
              placeholder={
                takesCommand ? "sed -i 's/colour/color/g' README.md" : "Fix the flaky test in src/queue.test.ts"
              }
              onKeyDown={(e) => {
                if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) submit(e);
              }}
            />
          </Field>
          <ErrorNote message={launch.error?.message} />
          <div className="flex items-center justify-end gap-3">
            <span className="text-xs text-gray-500">Ctrl+Enter</span>
            <Button size="lg" type="submit" disabled={launch.isPending || !selected}>
              {launch.isPending ? "Launching…" : "Launch run"}
            </Button>
          </div>
        </div>
      </form>
    </Panel>
  );
}

"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useState, type FormEvent } from "react";
import { ProjectMemory } from "./project-memory";
import { ProjectSettings } from "./project-settings";
import { useTRPC } from "~/trpc/client";
import { formatTime } from "~/components/shared/elapsed";
import { Button } from "~/components/ui/button";
import { ErrorNote, Field, inputClass } from "~/components/ui/field";
import { Panel } from "~/components/ui/panel";
import { Table, THead, Th, TBody } from "~/components/ui/table";

export function ProjectsPanel() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const projects = useQuery(trpc.projects.list.queryOptions());
  const [path, setPath] = useState("");
  const [name, setName] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const add = useMutation(
    trpc.projects.add.mutationOptions({
      onSuccess: async () => {
        setPath("");
        setName("");
        await queryClient.invalidateQueries({ queryKey: trpc.projects.list.queryKey() });
      },
    }),
  );

  function submit(event: FormEvent) {
    event.preventDefault();
    add.mutate({ path, name: name || undefined });
  }

  return (
    <div className="space-y-6">
      <Panel title="Register a project">
        <form
          onSubmit={submit}
          className="grid gap-3 md:grid-cols-[3fr_1fr_auto] md:items-end"
          aria-label="Register a project"
        >
          <Field label="Repository path" hint="Absolute path of a local git repository with at least one commit.">
            <input
              aria-label="Repository path"
              className={`${inputClass} font-mono`}
              value={path}
              onChange={(e) => setPath(e.target.value)}
              placeholder="/home/me/src/my-repo"
            />
          </Field>
          <Field label="Name" hint="Defaults to the folder's name.">
            <input
              aria-label="Name"
              className={inputClass}
              value={name}
              onChange={(e) => setName(e.target.value)}
              placeholder="my-repo"
            />
          </Field>
          <div className="md:pb-5">
            <Button size="lg" type="submit" disabled={add.isPending}>
              {add.isPending ? "Checking…" : "Add project"}
            </Button>
          </div>
        </form>
        <div className="mt-3">
          <ErrorNote message={add.error?.message} />
        </div>
      </Panel>

      <Panel title="Projects">
        {projects.data?.length === 0 && <p className="text-sm text-gray-400">No projects registered yet.</p>}
        {projects.data && projects.data.length > 0 && (
          <Table testId="projects-table">
            <THead>
              <Th>Name</Th>
              <Th>Path</Th>
              <Th>Default branch</Th>
              <Th>Checkpoints</Th>
              <Th>Added</Th>
              <Th last />
            </THead>
            <TBody>
              {projects.data.map((p) => (
                <Fragment key={p.id}>
                  <tr>
                    <td className="py-2 pr-3 text-gray-100">{p.name}</td>
                    <td className="py-2 pr-3 font-mono text-xs text-gray-300">{p.path}</td>
                    <td className="py-2 pr-3 font-mono text-xs text-gray-300">{p.defaultBranch}</td>
                    <td className="py-2 pr-3 text-xs text-gray-400">
                      {Array.isArray(p.checkpoints) ? p.checkpoints.length : 0}
                    </td>
                    <td className="py-2 pr-3 text-gray-400">{formatTime(p.createdAt)}</td>
                    <td className="py-2 text-right">
                      <button
                        type="button"
                        className="text-xs text-sky-300 hover:underline"
                        onClick={() => setOpen(open === p.id ? null : p.id)}
                      >
                        {open === p.id ? "Close" : "Settings"}
                      </button>
                    </td>
                  </tr>
                  {open === p.id && (
                    <tr>
                      <td colSpan={6} className="bg-black/20 p-4">
                        <div className="grid gap-6 lg:grid-cols-2">
                          <ProjectSettings project={p} />
                          <ProjectMemory project={p.id} />
                        </div>
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </TBody>
          </Table>
        )}
      </Panel>
    </div>
  );
}

"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useState, type FormEvent } from "react";
import { ProjectMemory } from "./project-memory";
import { ProjectSettings } from "./project-settings";
import { useTRPC } from "~/trpc/client";
import { formatTime } from "~/components/shared/elapsed";
import { buttonClass, ErrorNote, Field, inputClass, Panel } from "~/components/ui/field";

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
            <button type="submit" className={buttonClass} disabled={add.isPending}>
              {add.isPending ? "Checking…" : "Add project"}
            </button>
          </div>
        </form>
        <div className="mt-3">
          <ErrorNote message={add.error?.message} />
        </div>
      </Panel>

      <Panel title="Projects">
        {projects.data?.length === 0 && <p className="text-sm text-gray-400">No projects registered yet.</p>}
        {projects.data && projects.data.length > 0 && (
          <table className="w-full text-left text-sm" data-testid="projects-table">
            <thead className="text-xs uppercase tracking-wide text-gray-500">
              <tr>
                <th className="py-2 pr-3 font-medium">Name</th>
                <th className="py-2 pr-3 font-medium">Path</th>
                <th className="py-2 pr-3 font-medium">Default branch</th>
                <th className="py-2 pr-3 font-medium">Checkpoints</th>
                <th className="py-2 pr-3 font-medium">Added</th>
                <th className="py-2 font-medium" />
              </tr>
            </thead>
            <tbody className="divide-y divide-white/5">
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
            </tbody>
          </table>
        )}
      </Panel>
    </div>
  );
}

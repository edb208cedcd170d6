"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { useTRPC } from "~/trpc/client";
import { Button } from "~/components/ui/button";
import { ErrorNote, Field } from "~/components/ui/field";
import { Panel } from "~/components/ui/panel";
import { Select } from "~/components/ui/select";

/** Charts a results.tsv made outside Loopy (autoresearch's format) as a finished loop. */
export function ImportTsvForm() {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const projects = useQuery(trpc.projects.list.queryOptions());
  const [project, setProject] = useState("");
  const [direction, setDirection] = useState<"min" | "max">("min");
  const [file, setFile] = useState<File | null>(null);
  const importTsv = useMutation(
    trpc.research.importTsv.mutationOptions({
      onSuccess: async (loop) => {
        await queryClient.invalidateQueries({ queryKey: trpc.research.list.queryKey() });
        router.push(`/research/${loop.id}`);
      },
    }),
  );
  const selected = project || projects.data?.[0]?.id || "";
  if (!projects.data?.length) return null;
  return (
    <Panel title="Import results.tsv">
      <form
        className="flex flex-wrap items-end gap-3"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!file) return;
          importTsv.mutate({ project: selected, tsv: await file.text(), name: file.name, direction });
        }}
      >
        <Field label="Project">
          <Select aria-label="Import project" value={selected} onChange={(e) => setProject(e.target.value)}>
            {projects.data.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </Select>
        </Field>
        <Field label="Better">
          <Select
            aria-label="Import direction"
            value={direction}
            onChange={(e) => setDirection(e.target.value as "min" | "max")}
          >
            <option value="min">lower</option>
            <option value="max">higher</option>
          </Select>
        </Field>
        <Field label="File" hint="commit, metric, memory_gb, status (keep|discard|crash), description; tab-separated">
          <input
            aria-label="results.tsv file"
            type="file"
            accept=".tsv,text/tab-separated-values,text/plain"
            className="text-sm text-gray-300"
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
          />
        </Field>
        <Button size="lg" type="submit" disabled={!file || importTsv.isPending}>
          {importTsv.isPending ? "Importing…" : "Import"}
        </Button>
      </form>
      <div className="mt-2">
        <ErrorNote message={importTsv.error?.message} />
      </div>
    </Panel>
  );
}

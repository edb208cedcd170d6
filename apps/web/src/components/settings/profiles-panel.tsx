"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTRPC } from "~/trpc/client";
import { Button } from "~/components/ui/button";
import { ErrorNote, Field, inputClass } from "~/components/ui/field";
import { Panel } from "~/components/ui/panel";
import { Table, THead, Th, TBody } from "~/components/ui/table";
import { Select } from "~/components/ui/select";

/** Agent profiles: saved adapter + model + endpoint + limits, chosen when launching. */
export function ProfilesPanel() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const agents = useQuery(trpc.agents.list.queryOptions());
  const profiles = useQuery(trpc.profiles.list.queryOptions());
  const [form, setForm] = useState({
    name: "",
    adapter: "claude-code",
    model: "",
    baseUrl: "",
    secretNames: "",
    maxTurns: "",
    budgetUsd: "",
  });
  const add = useMutation(
    trpc.profiles.add.mutationOptions({
      onSuccess: async () => {
        setForm((f) => ({ ...f, name: "", model: "", baseUrl: "", secretNames: "", maxTurns: "", budgetUsd: "" }));
        await queryClient.invalidateQueries({ queryKey: trpc.profiles.list.queryKey() });
      },
    }),
  );
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [key]: e.target.value }));

  function submit(event: FormEvent) {
    event.preventDefault();
    add.mutate({
      name: form.name,
      adapter: form.adapter,
      config: {
        ...(form.model ? { model: form.model } : {}),
        ...(form.baseUrl ? { baseUrl: form.baseUrl } : {}),
        ...(form.secretNames ? { secretNames: form.secretNames.split(/[\s,]+/).filter(Boolean) } : {}),
        ...(form.maxTurns ? { maxTurns: Number(form.maxTurns) } : {}),
        ...(form.budgetUsd ? { budgetUsd: Number(form.budgetUsd) } : {}),
      },
    });
  }

  return (
    <div className="space-y-6">
      <Panel title="Agents on this machine">
        <ul className="grid gap-2 text-sm md:grid-cols-3">
          {agents.data?.map((a) => (
            <li key={a.name} className="rounded-md border border-white/10 px-3 py-2">
              <div className="font-medium text-gray-100">{a.label}</div>
              <div className="font-mono text-xs text-gray-500">{a.name}</div>
              <div className={`mt-1 text-xs ${a.missing ? "text-orange-300" : "text-emerald-400"}`}>
                {a.missing ?? "ready"}
              </div>
            </li>
          ))}
        </ul>
      </Panel>
      <Panel title="New agent profile">
        <form onSubmit={submit} className="grid gap-3 md:grid-cols-4" aria-label="New agent profile">
          <Field label="Name">
            <input
              aria-label="Profile name"
              className={inputClass}
              value={form.name}
              onChange={set("name")}
              placeholder="claude-sonnet"
            />
          </Field>
          <Field label="Adapter">
            <Select aria-label="Adapter" value={form.adapter} onChange={set("adapter")}>
              {agents.data?.map((a) => (
                <option key={a.name} value={a.name}>
                  {a.label}
                </option>
              ))}
            </Select>
          </Field>
          <Field label="Model">
            <input
              aria-label="Model"
              className={inputClass}
              value={form.model}
              onChange={set("model")}
              placeholder="claude-sonnet-4-5"
            />
          </Field>
          <Field label="Base URL" hint="API endpoint; needed for OpenAI-compatible servers">
            <input
              aria-label="Base URL"
              className={inputClass}
              value={form.baseUrl}
              onChange={set("baseUrl")}
              placeholder="http://127.0.0.1:11434/v1"
            />
          </Field>
          <Field label="Secrets" hint="Names of the worker's environment variables to pass, e.g. ANTHROPIC_API_KEY">
            <input
              aria-label="Secrets"
              className={inputClass}
              value={form.secretNames}
              onChange={set("secretNames")}
              placeholder="ANTHROPIC_API_KEY"
            />
          </Field>
          <Field label="Max turns">
            <input
              aria-label="Max turns"
              className={inputClass}
              value={form.maxTurns}
              onChange={set("maxTurns")}
              placeholder="30"
            />
          </Field>
          <Field label="Budget (USD per run)">
            <input
              aria-label="Budget"
              className={inputClass}
              value={form.budgetUsd}
              onChange={set("budgetUsd")}
              placeholder="2.50"
            />
          </Field>
          <div className="flex items-end pb-5">
            <Button size="lg" type="submit" disabled={add.isPending}>
              Save profile
            </Button>
          </div>
        </form>
        <ErrorNote message={add.error?.message} />
      </Panel>
      <Panel title="Profiles">
        {profiles.data?.length === 0 && <p className="text-sm text-gray-400">No profiles yet.</p>}
        {profiles.data && profiles.data.length > 0 && (
          <Table testId="profiles-table">
            <THead>
              <Th>Name</Th>
              <Th>Adapter</Th>
              <Th>Model</Th>
              <Th>Endpoint</Th>
              <Th>Secrets</Th>
              <Th last>Limits</Th>
            </THead>
            <TBody>
              {profiles.data.map((p) => (
                <tr key={p.id}>
                  <td className="py-2 pr-3 text-gray-100">{p.name}</td>
                  <td className="py-2 pr-3 text-gray-300">{p.adapter}</td>
                  <td className="py-2 pr-3 font-mono text-xs text-gray-300">{p.config.model ?? "—"}</td>
                  <td className="py-2 pr-3 font-mono text-xs text-gray-400">{p.config.baseUrl ?? "default"}</td>
                  <td className="py-2 pr-3 font-mono text-xs text-gray-400">
                    {p.config.secretNames?.join(", ") ?? "—"}
                  </td>
                  <td className="py-2 text-xs text-gray-400">
                    {[p.config.maxTurns && `${p.config.maxTurns} turns`, p.config.budgetUsd && `$${p.config.budgetUsd}`]
                      .filter(Boolean)
                      .join(" · ") || "—"}
                  </td>
                </tr>
              ))}
            </TBody>
          </Table>
        )}
      </Panel>
    </div>
  );
}

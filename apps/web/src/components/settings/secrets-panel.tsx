"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTRPC } from "~/trpc/client";
import { Button } from "~/components/ui/button";
import { ErrorNote, Field, inputClass } from "~/components/ui/field";
import { Panel } from "~/components/ui/panel";
import { SettingsTabs } from "./settings-tabs";

/**
 * Stored secrets (model API keys): names and who changed them when, never a
 * value. Setting one replaces it; the value field is cleared once it is sent.
 */
export function SecretsPanel() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const me = useQuery(trpc.auth.me.queryOptions());
  const isAdmin = me.data?.role === "admin";
  const secrets = useQuery(trpc.secrets.list.queryOptions(undefined, { enabled: isAdmin }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.secrets.pathKey() });
  const set = useMutation(trpc.secrets.set.mutationOptions({ onSuccess: refresh }));
  const remove = useMutation(trpc.secrets.delete.mutationOptions({ onSuccess: refresh }));
  const [form, setForm] = useState({ name: "", value: "" });

  if (me.data && !isAdmin) {
    return (
      <div className="space-y-4">
        <SettingsTabs admin={false} />
        <p className="text-sm text-gray-400">Secrets are managed by an admin.</p>
      </div>
    );
  }

  function save(event: FormEvent) {
    event.preventDefault();
    set.mutate(form, { onSuccess: () => setForm({ name: "", value: "" }) });
  }

  return (
    <div className="space-y-6">
      <SettingsTabs admin />
      <Panel title="Secrets">
        <p className="mb-3 text-sm text-gray-400">
          Encrypted at rest (AES-256-GCM). A profile or a run names the ones its agent needs; they reach only that
          agent&apos;s environment and are redacted from everything stored. Values are never shown again.
        </p>
        <table data-testid="secrets-table" className="w-full text-left text-sm">
          <thead className="text-xs uppercase text-gray-500">
            <tr>
              <th className="py-1.5">Name</th>
              <th>Set by</th>
              <th>Updated</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {secrets.data?.length === 0 && (
              <tr>
                <td colSpan={4} className="py-2 text-gray-500">
                  No secrets yet.
                </td>
              </tr>
            )}
            {secrets.data?.map((s) => (
              <tr key={s.name} className="border-t border-white/5">
                <td className="py-2 font-mono text-gray-100">{s.name}</td>
                <td className="text-gray-400">{s.updatedBy ?? "—"}</td>
                <td className="text-gray-400">{new Date(s.updatedAt).toLocaleString()}</td>
                <td className="text-right">
                  <button
                    type="button"
                    className="text-xs text-red-300 hover:text-red-200"
                    onClick={() => {
                      if (
                        window.confirm(
                          `Delete the secret ${s.name}? Agents that need it will not start until it is set again.`,
                        )
                      )
                        remove.mutate({ name: s.name });
                    }}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <ErrorNote message={remove.error?.message} />
        <form onSubmit={save} className="mt-4 grid gap-3 md:grid-cols-3" aria-label="Set a secret">
          <Field label="Name" hint="Upper case, digits and _, as the agent's environment variable">
            <input
              aria-label="Secret name"
              className={`${inputClass} font-mono`}
              value={form.name}
              onChange={(e) => setForm({ ...form, name: e.target.value })}
              placeholder="ANTHROPIC_API_KEY"
            />
          </Field>
          <Field label="Value" hint="Replaces the stored value, if any">
            <input
              aria-label="Secret value"
              type="password"
              autoComplete="off"
              className={inputClass}
              value={form.value}
              onChange={(e) => setForm({ ...form, value: e.target.value })}
            />
          </Field>
          <div className="flex items-start pt-5">
            <Button size="lg" type="submit" disabled={!form.name || !form.value || set.isPending}>
              Save secret
            </Button>
          </div>
        </form>
        <ErrorNote message={set.error?.message} />
      </Panel>
    </div>
  );
}

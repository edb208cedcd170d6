"use client";

import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "~/trpc/client";
import { ErrorNote, Field, inputClass } from "~/components/ui/field";
import { Panel } from "~/components/ui/panel";
import { SettingsTabs } from "./settings-tabs";

const TARGET_LINKS: Record<string, string> = {
  runs: "/runs/",
  run: "/runs/",
  review: "/runs/",
  fleets: "/fleets/",
  fleet: "/fleets/",
  research: "/research/",
};

/** Who launched, reviewed, approved, merged, rejected, and who changed projects, profiles, secrets or users. */
export function AuditLog() {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions());
  const [filter, setFilter] = useState({ action: "", actor: "", targetId: "" });
  const input = {
    ...(filter.action ? { action: filter.action } : {}),
    ...(filter.actor ? { actor: filter.actor } : {}),
    ...(filter.targetId ? { targetId: filter.targetId } : {}),
    limit: 100,
  };
  const log = useInfiniteQuery(
    trpc.auth.audit.infiniteQueryOptions(input, {
      initialCursor: undefined as string | undefined,
      getNextPageParam: (page) => (page.more ? page.entries.at(-1)?.id : undefined),
    }),
  );
  const entries = log.data?.pages.flatMap((p) => p.entries) ?? [];
  return (
    <div className="space-y-6">
      <SettingsTabs admin={me.data?.role === "admin"} />
      <Panel title="Audit log">
        <div className="mb-4 grid gap-3 md:grid-cols-3">
          <Field label="Action" hint='A path such as review.approve, or a prefix ending in "." (runs.)'>
            <input
              aria-label="Filter by action"
              className={inputClass}
              value={filter.action}
              onChange={(e) => setFilter({ ...filter, action: e.target.value.trim() })}
            />
          </Field>
          <Field label="Who">
            <input
              aria-label="Filter by actor"
              className={inputClass}
              value={filter.actor}
              onChange={(e) => setFilter({ ...filter, actor: e.target.value.trim() })}
            />
          </Field>
          <Field label="Target id">
            <input
              aria-label="Filter by target"
              className={inputClass}
              value={filter.targetId}
              onChange={(e) => setFilter({ ...filter, targetId: e.target.value.trim() })}
            />
          </Field>
        </div>
        <ErrorNote message={log.error?.message} />
        <table data-testid="audit-table" className="w-full text-left text-sm">
          <thead className="text-xs uppercase text-gray-500">
            <tr>
              <th className="py-1.5">When</th>
              <th>Who</th>
              <th>Action</th>
              <th>Target</th>
              <th>Details</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => {
              const link = e.targetKind && e.targetId && TARGET_LINKS[e.targetKind];
              return (
                <tr key={e.id} className="border-t border-white/5 align-top">
                  <td className="whitespace-nowrap py-2 pr-3 text-gray-400">{new Date(e.at).toLocaleString()}</td>
                  <td className="pr-3 text-gray-200">{e.actor}</td>
                  <td className="pr-3 font-mono text-xs text-sky-300">{e.action}</td>
                  <td className="pr-3 font-mono text-xs">
                    {link ? (
                      <a
                        className="text-gray-200 underline decoration-white/20 hover:text-white"
                        href={`${link}${e.targetId}`}
                      >
                        {e.targetId}
                      </a>
                    ) : (
                      <span className="text-gray-400">{e.targetId ?? ""}</span>
                    )}
                  </td>
                  <td className="break-all font-mono text-xs text-gray-500">
                    {Object.keys(e.detail).length ? JSON.stringify(e.detail) : ""}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {entries.length === 0 && !log.isLoading && (
          <p className="py-4 text-sm text-gray-500">
            Nothing recorded{filter.action || filter.actor || filter.targetId ? " for this filter" : ""}.
          </p>
        )}
        {log.hasNextPage && (
          <button
            type="button"
            className="mt-3 text-sm text-gray-400 hover:text-white"
            onClick={() => void log.fetchNextPage()}
          >
            Load older
          </button>
        )}
      </Panel>
    </div>
  );
}

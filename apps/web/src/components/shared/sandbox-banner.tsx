"use client";

import { useQuery } from "@tanstack/react-query";
import { usePathname } from "next/navigation";
import { useTRPC } from "~/trpc/client";

/**
 * A red banner on every page while some worker runs agents unconfined: LOOPY_SANDBOX=off, or "auto"
 * without a working bubblewrap (the worker publishes its state; see packages/queue/src/worker-sandbox.ts).
 * One line per host and reason, however many workers share them. Signed-in pages only: the sign-in
 * form has no session to ask with.
 */
export function SandboxBanner() {
  if (usePathname() === "/login") return null;
  return <UnconfinedWorkers />;
}

function UnconfinedWorkers() {
  const trpc = useTRPC();
  const workers = useQuery(trpc.agents.sandbox.queryOptions(undefined, { refetchInterval: 30_000, staleTime: 10_000 }));
  const lines = new Map<string, string>();
  for (const w of workers.data ?? []) {
    if (w.confined) continue;
    lines.set(
      `${w.host}\u0000${w.reason}`,
      w.reason === "sandbox off"
        ? `Agents run unconfined: sandbox off on worker ${w.host} (LOOPY_SANDBOX=off)`
        : `Agents run unconfined: bubblewrap is not available on worker ${w.host} (${w.reason ?? "unknown reason"})`,
    );
  }
  if (lines.size === 0) return null;
  return (
    <div
      role="alert"
      data-testid="sandbox-banner"
      className="border-b border-red-500/40 bg-red-600/90 text-sm text-white"
    >
      <div className="mx-auto max-w-7xl space-y-0.5 px-6 py-2">
        {[...lines.values()].map((line) => (
          <p key={line}>{line}</p>
        ))}
      </div>
    </div>
  );
}

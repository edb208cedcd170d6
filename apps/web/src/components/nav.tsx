"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useTRPC } from "~/trpc/client";
import { useLiveRuns } from "./use-live-runs";

const LINKS = [
  { href: "/runs", label: "Runs" },
  { href: "/review", label: "Review" },
  { href: "/fleets", label: "Fleets" },
  { href: "/research", label: "Research" },
  { href: "/projects", label: "Projects" },
  { href: "/profiles", label: "Agents" },
];

export function Nav() {
  const pathname = usePathname();
  const trpc = useTRPC();
  const counts = useQuery(trpc.review.counts.queryOptions());
  // One live subscription for the whole app: every run change refreshes lists, inbox and counts.
  useLiveRuns();
  return (
    <header className="border-b border-white/10 bg-[#0f1219]">
      <div className="mx-auto flex max-w-7xl items-center gap-8 px-6 py-3">
        <Link href="/runs" className="flex items-center gap-2 font-semibold tracking-tight text-white">
          <span className="inline-block h-3 w-3 rounded-full border-2 border-emerald-400" aria-hidden />
          Loopy
        </Link>
        <nav className="flex gap-1 text-sm">
          {LINKS.map((link) => {
            const active = pathname.startsWith(link.href);
            return (
              <Link
                key={link.href}
                href={link.href}
                className={`flex items-center gap-2 rounded-md px-3 py-1.5 ${active ? "bg-white/10 text-white" : "text-gray-400 hover:text-white"}`}
              >
                {link.label}
                {link.href === "/review" && (counts.data?.awaitingReview ?? 0) > 0 && (
                  <span data-testid="inbox-count" className="rounded-full bg-amber-400 px-1.5 text-xs font-semibold text-black" title="awaiting review">
                    {counts.data?.awaitingReview}
                  </span>
                )}
                {link.href === "/review" && (counts.data?.needsAttention ?? 0) > 0 && (
                  <span data-testid="attention-count" className="rounded-full bg-orange-500 px-1.5 text-xs font-semibold text-black" title="needs attention">
                    {counts.data?.needsAttention}
                  </span>
                )}
              </Link>
            );
          })}
        </nav>
      </div>
    </header>
  );
}

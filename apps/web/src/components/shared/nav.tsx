"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useTRPC } from "~/trpc/client";
import { useLiveRuns } from "~/components/runs/use-live-runs";
import { useNotifications } from "./notifications";

const LINKS = [
  { href: "/", label: "Overview" },
  { href: "/runs", label: "Runs" },
  { href: "/review", label: "Review" },
  { href: "/fleets", label: "Fleets" },
  { href: "/research", label: "Research" },
  { href: "/projects", label: "Projects" },
  { href: "/profiles", label: "Agents" },
];

export function Nav() {
  const pathname = usePathname();
  // The sign-in form has no session yet: no queries, no live stream.
  if (pathname === "/login") {
    return (
      <header className="border-b border-white/10 bg-chrome">
        <div className="mx-auto flex max-w-7xl items-center px-6 py-3">
          <Logo />
        </div>
      </header>
    );
  }
  return <AppNav pathname={pathname} />;
}

function Logo() {
  return (
    <Link href="/" className="flex items-center gap-2 font-semibold tracking-tight text-white">
      <span className="inline-block h-3 w-3 rounded-full border-2 border-emerald-400" aria-hidden />
      Loopy
    </Link>
  );
}

function AppNav({ pathname }: { pathname: string }) {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions(undefined, { staleTime: 60_000 }));
  const counts = useQuery(trpc.review.counts.queryOptions());
  // One live subscription for the whole app: every run change refreshes lists, inbox and counts.
  useLiveRuns();
  useNotifications();
  return (
    <header className="border-b border-white/10 bg-chrome">
      <div className="mx-auto flex max-w-7xl items-center gap-8 px-6 py-3">
        <Logo />
        <nav className="flex gap-1 text-sm">
          {LINKS.map((link) => {
            const active = link.href === "/" ? pathname === "/" : pathname.startsWith(link.href);
            return (
              <Link
                key={link.href}
                href={link.href}
                className={`flex items-center gap-2 rounded-md px-3 py-1.5 ${active ? "bg-white/10 text-white" : "text-gray-400 hover:text-white"}`}
              >
                {link.label}
                {link.href === "/review" && (counts.data?.awaitingReview ?? 0) > 0 && (
                  <span
                    data-testid="inbox-count"
                    className="rounded-full bg-amber-400 px-1.5 text-xs font-semibold text-black"
                    title="awaiting review"
                  >
                    {counts.data?.awaitingReview}
                  </span>
                )}
                {link.href === "/review" && (counts.data?.needsAttention ?? 0) > 0 && (
                  <span
                    data-testid="attention-count"
                    className="rounded-full bg-orange-500 px-1.5 text-xs font-semibold text-black"
                    title="needs attention"
                  >
                    {counts.data?.needsAttention}
                  </span>
                )}
              </Link>
            );
          })}
        </nav>
        {me.data && <UserMenu name={me.data.name} role={me.data.role} active={pathname.startsWith("/settings")} />}
      </div>
    </header>
  );
}

function UserMenu({ name, role, active }: { name: string; role: string; active: boolean }) {
  async function signOut() {
    await fetch("/api/auth/logout", { method: "POST" });
    window.location.assign("/login");
  }
  return (
    <div className="ml-auto flex items-center gap-3 text-sm">
      <Link
        href={role === "admin" ? "/settings/users" : "/settings/audit"}
        className={`rounded-md px-3 py-1.5 ${active ? "bg-white/10 text-white" : "text-gray-400 hover:text-white"}`}
      >
        {role === "admin" ? "Users & audit" : "Audit"}
      </Link>
      <span data-testid="signed-in-as" className="text-gray-400" title={`role: ${role}`}>
        {name} <span className="text-gray-500">({role})</span>
      </span>
      <button type="button" onClick={() => void signOut()} className="text-gray-400 hover:text-white">
        Sign out
      </button>
    </div>
  );
}

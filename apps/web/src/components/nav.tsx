"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

const LINKS = [
  { href: "/runs", label: "Runs" },
  { href: "/projects", label: "Projects" },
];

export function Nav() {
  const pathname = usePathname();
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
                className={`rounded-md px-3 py-1.5 ${active ? "bg-white/10 text-white" : "text-gray-400 hover:text-white"}`}
              >
                {link.label}
              </Link>
            );
          })}
        </nav>
      </div>
    </header>
  );
}

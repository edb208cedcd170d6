"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

export function SettingsTabs({ admin }: { admin: boolean }) {
  const pathname = usePathname();
  const tabs = [
    ...(admin
      ? [
          { href: "/settings/users", label: "Users & tokens" },
          { href: "/settings/secrets", label: "Secrets" },
        ]
      : []),
    { href: "/settings/audit", label: "Audit log" },
  ];
  return (
    <div className="flex gap-1 text-sm">
      {tabs.map((t) => (
        <Link
          key={t.href}
          href={t.href}
          className={`rounded-md px-3 py-1.5 ${pathname === t.href ? "bg-white/10 text-white" : "text-gray-400 hover:text-white"}`}
        >
          {t.label}
        </Link>
      ))}
    </div>
  );
}

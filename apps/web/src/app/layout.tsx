import type { Metadata } from "next";
import type { ReactNode } from "react";
import { Nav } from "~/components/shared/nav";
import { SandboxBanner } from "~/components/shared/sandbox-banner";
import { Providers } from "~/trpc/client";
import "./globals.css";

export const metadata: Metadata = { title: "Loopy", description: "A control plane for agent loops" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-screen font-sans antialiased">
        <Providers>
          <Nav />
          <SandboxBanner />
          <main className="mx-auto max-w-7xl px-6 py-6">{children}</main>
        </Providers>
      </body>
    </html>
  );
}

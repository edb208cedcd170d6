import Link from "next/link";
import type { ReactNode } from "react";

export const inputClass =
  "w-full rounded-md border border-white/10 bg-black/30 px-3 py-2 text-sm text-gray-100 placeholder:text-gray-500 focus:border-sky-400/60 focus:outline-none";

/** A labelled form control: the label above, an optional hint below. */
export function Field({ label, hint, children }: { label: string; hint?: string; children: ReactNode }) {
  return (
    // biome-ignore lint/a11y/noLabelWithoutControl: the control is `children`; the label wraps it, which associates the two.
    <label className="block space-y-1">
      <span className="text-xs font-medium uppercase tracking-wide text-gray-400">{label}</span>
      {children}
      {hint && <span className="block text-xs text-gray-500">{hint}</span>}
    </label>
  );
}

export function ErrorNote({ message }: { message: string | null | undefined }) {
  if (!message) return null;
  return (
    <p
      role="alert"
      data-testid="error"
      className="rounded-md border border-red-400/30 bg-red-500/10 px-3 py-2 text-sm text-red-200"
    >
      {message}
    </p>
  );
}

/** One labelled value of a summary grid (a run's or a loop's facts). */
export function Meta({ label, value, mono }: { label: string; value: ReactNode; mono?: boolean }) {
  return (
    <div className="min-w-0">
      <dt className="text-xs uppercase tracking-wide text-gray-500">{label}</dt>
      <dd className={`truncate text-gray-200 ${mono ? "font-mono text-xs leading-5" : ""}`}>{value}</dd>
    </div>
  );
}

/** A page whose record could not be loaded: the reason, and the way back to its list. */
export function PageError({ message, back }: { message: string; back: { href: string; label: string } }) {
  return (
    <div className="space-y-3">
      <ErrorNote message={message} />
      <Link href={back.href} className="text-sm text-sky-300 underline">
        {back.label}
      </Link>
    </div>
  );
}

"use client";

import { useEffect, useState } from "react";
import { Dialog } from "~/components/ui/dialog";

const REVIEW_KEYS: Array<[string, string]> = [
  ["j / k", "next / previous run in the review inbox"],
  ["n / p", "next / previous file"],
  ["c", "comment on the current file's first changed line"],
  ["a", "approve (merge)"],
  ["r", "request changes"],
  ["x", "reject"],
  ["?", "show or hide these keys"],
];

/** Key names for `useKeys` maps (computed keys: a capitalised property holding a function reads as a component). */
export const ENTER = "Enter";
export const ESCAPE = "Escape";

/** Calls handlers for single-key shortcuts, except while the user types in a field. */
export function useKeys(handlers: Record<string, () => void>) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.metaKey || e.ctrlKey || e.altKey) return;
      const target = e.target as HTMLElement | null;
      if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
      // Enter on a focused link or button keeps its own meaning.
      if (e.key === "Enter" && target && target !== document.body) return;
      const handler = handlers[e.key];
      if (handler) {
        e.preventDefault();
        handler();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [handlers]);
}

export function KeyHelp({ open, onClose }: { open: boolean; onClose: () => void }) {
  if (!open) return null;
  return (
    <Dialog label="Keyboard shortcuts" onClose={onClose} className="w-96">
      <h2 className="mb-3 text-sm font-semibold text-white">Keyboard</h2>
      <dl className="space-y-1.5 text-sm">
        {REVIEW_KEYS.map(([key, what]) => (
          <div key={key} className="flex gap-3">
            <dt className="w-12 font-mono text-sky-300">{key}</dt>
            <dd className="text-gray-300">{what}</dd>
          </div>
        ))}
      </dl>
    </Dialog>
  );
}

export function useToggle(initial = false): [boolean, () => void, (v: boolean) => void] {
  const [value, setValue] = useState(initial);
  return [value, () => setValue((v) => !v), setValue];
}

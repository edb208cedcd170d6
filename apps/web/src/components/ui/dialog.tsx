"use client";

import { useEffect, useRef, type ReactNode } from "react";

/**
 * A small modal for an action that cannot be undone (a merge). The first
 * choice gets focus, so a keyboard reviewer confirms with Enter; Escape and a
 * click outside cancel. Keys typed inside do not reach the page's shortcuts.
 */
export function ConfirmDialog({
  title,
  children,
  choices,
  onCancel,
  testId,
}: {
  title: string;
  children?: ReactNode;
  choices: Array<{
    label: string;
    onChoose: () => void;
    tone?: "primary" | "plain";
    testId?: string;
    disabled?: boolean;
  }>;
  onCancel: () => void;
  testId?: string;
}) {
  const first = useRef<HTMLButtonElement>(null);
  useEffect(() => first.current?.focus(), []);
  return (
    <div className="fixed inset-0 z-50 flex items-center justify-center bg-black/60" onClick={onCancel}>
      <div
        role="dialog"
        aria-modal="true"
        aria-label={title}
        data-testid={testId}
        className="w-[28rem] max-w-[90vw] space-y-3 rounded-lg border border-white/10 bg-[#11151d] p-5"
        onClick={(e) => e.stopPropagation()}
        onKeyDown={(e) => {
          // Escape cancels; no key reaches the page's shortcuts, so `a` or `x` typed now starts nothing else.
          if (e.key === "Escape") onCancel();
          e.stopPropagation();
        }}
      >
        <h2 className="text-sm font-semibold text-white">{title}</h2>
        {children && <div className="text-sm text-gray-300">{children}</div>}
        <div className="flex flex-wrap justify-end gap-2 pt-1">
          {choices.map((c, i) => (
            <button
              key={c.label}
              ref={i === 0 ? first : undefined}
              type="button"
              data-testid={c.testId}
              disabled={c.disabled}
              onClick={c.onChoose}
              className={
                c.tone === "plain"
                  ? "rounded-md border border-white/15 px-3 py-1.5 text-sm text-gray-200 hover:bg-white/5 disabled:opacity-40"
                  : "rounded-md bg-emerald-500 px-3 py-1.5 text-sm font-medium text-black hover:bg-emerald-400 disabled:opacity-40"
              }
            >
              {c.label}
            </button>
          ))}
          <button
            type="button"
            onClick={onCancel}
            className="rounded-md px-3 py-1.5 text-sm text-gray-400 hover:text-gray-200"
          >
            Cancel <kbd className="ml-1 text-xs opacity-70">Esc</kbd>
          </button>
        </div>
      </div>
    </div>
  );
}

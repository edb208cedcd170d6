"use client";

import { type ReactNode, useEffect, useRef } from "react";
import { Button } from "./button";
import { surfaceClass } from "./panel";

/**
 * A modal over a dimmed page. A click outside (on the backdrop) closes it. With `ownKeys`, Escape inside it
 * closes it and no key typed inside reaches the page's shortcuts; without, the page's own keys (a `useKeys`
 * Escape handler) close it.
 */
export function Dialog({
  label,
  onClose,
  ownKeys,
  testId,
  className,
  children,
}: {
  label: string;
  onClose: () => void;
  ownKeys?: boolean;
  testId?: string;
  className?: string;
  children: ReactNode;
}) {
  return (
    <div className="fixed inset-0 z-50 flex items-center justify-center">
      <button
        type="button"
        tabIndex={-1}
        aria-label="Close"
        className="absolute inset-0 cursor-default bg-black/60"
        onClick={onClose}
      />
      <div
        role="dialog"
        aria-modal="true"
        aria-label={label}
        data-testid={testId}
        className={`relative ${surfaceClass} p-5 ${className ?? ""}`}
        onKeyDown={
          ownKeys
            ? (e) => {
                // No key reaches the page's shortcuts, so `a` or `x` typed now starts nothing else.
                if (e.key === "Escape") onClose();
                e.stopPropagation();
              }
            : undefined
        }
      >
        {children}
      </div>
    </div>
  );
}

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
    <Dialog label={title} onClose={onCancel} ownKeys testId={testId} className="w-[28rem] max-w-[90vw] space-y-3">
      <h2 className="text-sm font-semibold text-white">{title}</h2>
      {children && <div className="text-sm text-gray-300">{children}</div>}
      <div className="flex flex-wrap justify-end gap-2 pt-1">
        {choices.map((c, i) => (
          <Button
            key={c.label}
            ref={i === 0 ? first : undefined}
            tone={c.tone === "plain" ? "secondary" : "confirm"}
            data-testid={c.testId}
            disabled={c.disabled}
            onClick={c.onChoose}
          >
            {c.label}
          </Button>
        ))}
        <Button tone="ghost" onClick={onCancel}>
          Cancel <kbd className="ml-1 text-xs opacity-70">Esc</kbd>
        </Button>
      </div>
    </Dialog>
  );
}

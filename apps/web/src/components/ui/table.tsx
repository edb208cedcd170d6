import type { ReactNode, ThHTMLAttributes } from "react";

/** A data table: full width, left-aligned, small text. */
export function Table({ testId, className, children }: { testId?: string; className?: string; children: ReactNode }) {
  return (
    <table className={`w-full text-left text-sm ${className ?? ""}`} data-testid={testId}>
      {children}
    </table>
  );
}

/** The header row; `sticky` keeps it on top of a scrolling table (on the panel surface). */
export function THead({ sticky, children }: { sticky?: boolean; children: ReactNode }) {
  return (
    <thead className={`text-xs uppercase tracking-wide text-gray-500 ${sticky ? "sticky top-0 z-20 bg-surface" : ""}`}>
      <tr>{children}</tr>
    </thead>
  );
}

/** A header cell; `last` drops the right padding of the last column, `right` aligns numbers. */
export function Th({
  right,
  last,
  className,
  ...props
}: ThHTMLAttributes<HTMLTableCellElement> & { right?: boolean; last?: boolean }) {
  return (
    <th
      className={`py-2 font-medium ${last ? "" : "pr-3"} ${right ? "text-right" : ""} ${className ?? ""}`}
      {...props}
    />
  );
}

export function TBody({ children }: { children: ReactNode }) {
  return <tbody className="divide-y divide-white/5">{children}</tbody>;
}

/**
 * For a row that opens something: put this on its `<tr>` and `rowTargetClass` on the one link or button in
 * it that opens it. That control's hit area covers the whole row, so a click anywhere on the row opens it,
 * while the keyboard reaches it with Tab and Enter like any link. Other controls in the row need `relative`.
 */
export const rowClass = "relative";
export const rowTargetClass =
  "after:absolute after:inset-0 after:content-[''] focus-visible:outline-none focus-visible:after:ring-1 focus-visible:after:ring-sky-400/60";

import type { ReactNode } from "react";

/** The surface every panel and card sits on. */
export const surfaceClass = "rounded-lg border border-white/10 bg-surface";

/** A titled section of a page, with optional actions on the right of its title. */
export function Panel({
  title,
  actions,
  children,
  testId,
}: {
  title: string;
  actions?: ReactNode;
  children: ReactNode;
  testId?: string;
}) {
  return (
    <section className={surfaceClass} data-testid={testId}>
      <div className="flex items-center justify-between border-b border-white/10 px-4 py-2.5">
        <h2 className="text-sm font-semibold text-gray-200">{title}</h2>
        {actions}
      </div>
      <div className="p-4">{children}</div>
    </section>
  );
}

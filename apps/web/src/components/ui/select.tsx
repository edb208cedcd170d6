import type { SelectHTMLAttributes } from "react";
import { inputClass } from "./field";

const COMPACT = "rounded border border-white/10 bg-black/30 px-2 py-0.5 text-xs text-gray-200";

/**
 * A native select. `compact` is the small one of a panel's toolbar (a diff's scope, a chart's series);
 * otherwise it is a form field like a text input.
 */
export function Select({
  compact,
  className,
  ...props
}: SelectHTMLAttributes<HTMLSelectElement> & { compact?: boolean }) {
  return <select className={`${compact ? COMPACT : inputClass} ${className ?? ""}`} {...props} />;
}

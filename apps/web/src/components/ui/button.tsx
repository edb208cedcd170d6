import type { ComponentProps } from "react";

/**
 * The app's buttons. `primary` starts something (sky), `secondary` is an outlined neutral action, `danger` and
 * `warn` are outlined red and amber actions (stop, reject; pause a fleet, request changes), `confirm` and
 * `attention` are their solid forms (merge; send a change request), `ghost` is a quiet text-only choice.
 */
export type ButtonTone = "primary" | "secondary" | "danger" | "warn" | "confirm" | "attention" | "ghost";
/** `sm` for inline actions (xs text), `md` for toolbars and dialogs, `lg` for a form's submit. */
export type ButtonSize = "sm" | "md" | "lg";

const TONE: Record<ButtonTone, string> = {
  primary: "bg-sky-500 font-medium text-white hover:bg-sky-400",
  secondary: "border border-white/15 text-gray-200 hover:bg-white/5",
  danger: "border border-red-400/40 text-red-200 hover:bg-red-500/10",
  warn: "border border-amber-400/50 text-amber-100 hover:bg-amber-500/10",
  confirm: "bg-emerald-500 font-medium text-black hover:bg-emerald-400",
  attention: "bg-amber-500 font-medium text-black hover:bg-amber-400",
  ghost: "text-gray-400 hover:text-gray-200",
};

const SIZE: Record<ButtonSize, string> = {
  sm: "px-3 py-1 text-xs",
  md: "px-3 py-1.5 text-sm",
  lg: "px-3 py-2 text-sm",
};

/** The classes of a button, for the few places that style a link or a `<summary>` like one. */
function buttonStyles({ tone = "primary", size = "md" }: { tone?: ButtonTone; size?: ButtonSize } = {}) {
  return `inline-flex items-center justify-center rounded-md ${SIZE[size]} ${TONE[tone]} disabled:cursor-not-allowed disabled:opacity-50`;
}

/** A form's main (submit) button. */
export const buttonClass = buttonStyles({ tone: "primary", size: "lg" });

export function Button({
  tone,
  size,
  className,
  type = "button",
  ...props
}: ComponentProps<"button"> & { tone?: ButtonTone; size?: ButtonSize }) {
  return <button type={type} className={`${buttonStyles({ tone, size })} ${className ?? ""}`} {...props} />;
}

/** A row of toggle buttons, one pressed: a small choice in a toolbar (diff layout, fleet kind). */
export function Segmented<T extends string>({
  label,
  options,
  value,
  onChange,
  className,
}: {
  label: string;
  options: ReadonlyArray<readonly [T, string]>;
  value: T;
  onChange: (value: T) => void;
  className?: string;
}) {
  return (
    <fieldset aria-label={label} className={`flex overflow-hidden rounded border border-white/10 ${className ?? ""}`}>
      {options.map(([option, text]) => (
        <button
          key={option}
          type="button"
          aria-pressed={option === value}
          onClick={() => onChange(option)}
          className={`px-2 py-0.5 ${option === value ? "bg-white/10 text-white" : "text-gray-400 hover:text-gray-200"}`}
        >
          {text}
        </button>
      ))}
    </fieldset>
  );
}

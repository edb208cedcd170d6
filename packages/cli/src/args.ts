/**
 * The CLI's argument parser: each command declares its options (see command.ts) and argv is parsed
 * against exactly those, plus the global ones. Anything it cannot make sense of is a UsageError,
 * which main.ts prints with a hint and exit code 2.
 */

/** What a command declares about one of its options. */
export interface OptionSpec {
  type: "boolean" | "string" | "number";
  /** One line for --help. */
  help: string;
  /** The value's placeholder in usage text: the P of `--project P`. */
  value?: string;
  /** A one-letter alias: `-p`. */
  short?: string;
  /** May be given more than once; the values are collected in order. */
  multiple?: boolean;
  /** The command cannot run without it. */
  required?: boolean;
  /** The only values a string option accepts. */
  choices?: readonly string[];
}

export type OptionSpecs = Record<string, OptionSpec>;

/** Options every command takes. */
export const GLOBAL_OPTIONS = {
  json: { type: "boolean", help: "print one JSON document instead of text" },
  raw: { type: "boolean", help: "keep the terminal escape sequences agents printed (removed by default)" },
  help: { type: "boolean", short: "h", help: "show this help" },
} as const satisfies OptionSpecs;

type One<S extends OptionSpec> = S extends { type: "number" }
  ? number
  : S extends { choices: readonly (infer C extends string)[] }
    ? C
    : string;

/** The parsed values of a command's options, typed from its declarations. */
export type OptionValues<O extends OptionSpecs> = {
  -readonly [K in keyof O]: O[K] extends { type: "boolean" }
    ? boolean
    : O[K] extends { multiple: true }
      ? One<O[K]>[] | undefined
      : O[K] extends { required: true }
        ? One<O[K]>
        : One<O[K]> | undefined;
} & { -readonly [K in keyof typeof GLOBAL_OPTIONS]: boolean };

/** Wrong use of the command line: printed with its hint and "See loopy <command> --help.", exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** A sentence that helps: the closest option, where an option belongs. */
    readonly hint?: string,
    /** The command whose --help to point at (main.ts fills it in when a handler throws). */
    public command?: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** What the parser needs to know about a command. */
export interface ParseTarget {
  /** The command's words, e.g. "review approve". */
  name: string;
  options: OptionSpecs;
  /** Positional arguments in usage form: "<run-id>" is required, "[ROLE]" optional. */
  args?: readonly string[];
}

export interface Parsed {
  options: Record<string, unknown>;
  positionals: string[];
}

/** "min or max", "one of viewer, reviewer, operator, admin". */
export function orList(choices: readonly string[]): string {
  return choices.length === 2 ? `${choices[0]} or ${choices[1]}` : `one of ${choices.join(", ")}`;
}

function isNumeric(text: string): boolean {
  return text.trim() !== "" && Number.isFinite(Number(text));
}

function convert(name: string, spec: OptionSpec, value: string): string | number {
  if (spec.type === "number") {
    if (!isNumeric(value)) throw new UsageError(`--${name} must be a number, got "${value}"`);
    return Number(value);
  }
  if (spec.choices && !spec.choices.includes(value))
    throw new UsageError(`--${name} must be ${orList(spec.choices)}, got "${value}"`);
  return value;
}

/** Edit distance (insert, delete, substitute), for "did you mean". */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitute);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The candidate `word` was most likely meant to be, if one is close enough (or the only one it starts). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const starting = candidates.filter((c) => c.startsWith(word));
  if (word.length >= 2 && starting.length === 1) return starting[0];
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = distance(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** `elsewhere` names the other commands that take an option, for the hint. */
export type Elsewhere = (option: string) => string[];

function unknownOption(token: string, target: ParseTarget, specs: OptionSpecs, elsewhere?: Elsewhere): UsageError {
  const name = token.replace(/^-+/, "").split("=")[0] ?? "";
  const near = token.startsWith("--") ? closest(name, Object.keys(specs)) : undefined;
  const others = token.startsWith("--") ? (elsewhere?.(name) ?? []) : [];
  const hint = near
    ? `Did you mean --${near}?`
    : others.length
      ? `--${name} is an option of ${others.map((c) => `\`loopy ${c}\``).join(", ")}.`
      : undefined;
  return new UsageError(`unknown option ${token} for \`loopy ${target.name}\``, hint, target.name);
}

function takesValue(spec: OptionSpec, next: string | undefined): next is string {
  if (next === undefined) return false;
  if (next === "-" || !next.startsWith("-")) return true;
  return spec.type === "number" && isNumeric(next);
}

function missingValue(name: string, spec: OptionSpec): UsageError {
  const placeholder = spec.value ?? (spec.choices ? spec.choices.join("|") : "VALUE");
  return new UsageError(
    `--${name} needs a value (--${name} ${placeholder})`,
    `A value that starts with "-" is written --${name}=-….`,
  );
}

/**
 * Parses argv (the words after the command's own) against a command's options and the global ones.
 * Options may come before, between or after positionals; `--name=value` and `-p value` work; `--` ends
 * the options. Throws UsageError for an unknown option, a missing or bad value, a missing required
 * option or positional, or one positional too many.
 */
export function parseArgv(target: ParseTarget, argv: readonly string[], elsewhere?: Elsewhere): Parsed {
  const specs: OptionSpecs = { ...GLOBAL_OPTIONS, ...target.options };
  const shorts = new Map(Object.entries(specs).flatMap(([name, s]) => (s.short ? [[s.short, name] as const] : [])));
  const options: Record<string, unknown> = {};
  const positionals: string[] = [];
  const set = (name: string, spec: OptionSpec, value: string | number | boolean) => {
    if (spec.multiple) options[name] = [...((options[name] as unknown[] | undefined) ?? []), value];
    else options[name] = value;
  };
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (token.startsWith("--")) {
      const eq = token.indexOf("=");
      const name = eq < 0 ? token.slice(2) : token.slice(2, eq);
      const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
      if (!spec) throw unknownOption(token, target, specs, elsewhere);
      if (spec.type === "boolean") {
        if (eq >= 0) throw new UsageError(`--${name} takes no value, got "${token.slice(eq + 1)}"`);
        set(name, spec, true);
        continue;
      }
      let value = eq < 0 ? undefined : token.slice(eq + 1);
      if (value === undefined) {
        const next = argv[i + 1];
        if (!takesValue(spec, next)) throw missingValue(name, spec);
        value = next;
        i++;
      }
      set(name, spec, convert(name, spec, value));
      continue;
    }
    if (token.startsWith("-") && token !== "-" && !isNumeric(token)) {
      // Short options: -f, -fh (booleans grouped), -p VALUE, -pVALUE.
      for (let j = 1; j < token.length; j++) {
        const name = shorts.get(token[j] as string);
        const spec = name === undefined ? undefined : specs[name];
        if (name === undefined || !spec) throw unknownOption(`-${token[j]}`, target, specs, elsewhere);
        if (spec.type === "boolean") {
          set(name, spec, true);
          continue;
        }
        let value: string | undefined = token.slice(j + 1);
        if (!value) {
          const next = argv[i + 1];
          if (!takesValue(spec, next)) throw missingValue(name, spec);
          value = next;
          i++;
        }
        set(name, spec, convert(name, spec, value));
        break;
      }
      continue;
    }
    positionals.push(token);
  }
  return { options: finish(target, specs, options), positionals: checkPositionals(target, positionals) };
}

function finish(target: ParseTarget, specs: OptionSpecs, options: Record<string, unknown>): Record<string, unknown> {
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.type === "boolean") options[name] ??= false;
    else if (spec.required && options[name] === undefined)
      throw new UsageError(
        `missing --${name}${spec.choices ? ` (${orList(spec.choices)})` : ""}`,
        undefined,
        target.name,
      );
  }
  return options;
}

function checkPositionals(target: ParseTarget, positionals: string[]): string[] {
  const declared = target.args ?? [];
  const missing = declared.find((arg, i) => !arg.startsWith("[") && positionals[i] === undefined);
  if (missing) throw new UsageError(`missing ${missing}`, undefined, target.name);
  const extra = positionals[declared.length];
  if (extra !== undefined)
    throw new UsageError(
      `unexpected argument "${extra}" for \`loopy ${target.name}\``,
      declared.length ? `It takes ${declared.join(" ")}.` : "It takes no arguments, only options.",
      target.name,
    );
  return positionals;
}

/** Whether argv asks for help (before any `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

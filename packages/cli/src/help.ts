import { GLOBAL_OPTIONS, type OptionSpec, type OptionSpecs } from "./args.ts";
import type { AnyCommand } from "./command.ts";

/** Where the second column starts: in command lists, and in option tables. */
const COLUMN = 40;
const OPTION_COLUMN = 30;

function placeholder(spec: OptionSpec): string {
  return spec.value ?? (spec.choices ? spec.choices.join("|") : spec.type === "number" ? "N" : "VALUE");
}

/** `--project P`, `-p, --project P`, `--wait`. */
function optionLabel(name: string, spec: OptionSpec, withShort = true): string {
  const short = withShort && spec.short ? `-${spec.short}, ` : "";
  return `${short}--${name}${spec.type === "boolean" ? "" : ` ${placeholder(spec)}`}`;
}

/** `loopy review comment <run-id> --file F --line N --message TEXT`, then `[options]` if it takes others. */
export function synopsis(cmd: AnyCommand): string {
  const entries = Object.entries(cmd.options);
  const required = entries.filter(([, s]) => s.required).map(([name, s]) => optionLabel(name, s, false));
  const optional = entries.some(([, s]) => !s.required);
  return ["loopy", cmd.name, ...(cmd.args ?? []), ...required, ...(optional ? ["[options]"] : [])].join(" ");
}

/** Two columns: the left padded to COLUMN, or the right on its own line below when the left is too long. */
function row(left: string, right: string, column = COLUMN): string {
  const head = `  ${left}`;
  if (!right) return head;
  return head.length < column - 1 ? `${head.padEnd(column)}${right}` : `${head}\n${" ".repeat(column)}${right}`;
}

function optionRows(options: OptionSpecs): string[] {
  return Object.entries(options).map(([name, spec]) => {
    const notes = [spec.required ? "required" : "", spec.multiple ? "repeatable" : ""].filter(Boolean);
    return row(optionLabel(name, spec), `${spec.help}${notes.length ? ` (${notes.join(", ")})` : ""}`, OPTION_COLUMN);
  });
}

/** `loopy <command> --help`: usage, what it does, its options, the global ones; `related` are its subcommands. */
export function commandHelp(cmd: AnyCommand, related: AnyCommand[] = []): string {
  const own = Object.keys(cmd.options).length;
  return [
    `Usage: ${synopsis(cmd)}`,
    "",
    cmd.summary,
    ...(cmd.details ? [cmd.details] : []),
    ...(own ? ["", "Options:", ...optionRows(cmd.options)] : []),
    "",
    "Global options:",
    ...optionRows(GLOBAL_OPTIONS),
    ...(related.length ? ["", "Also:", ...related.map((c) => row(synopsis(c), c.summary))] : []),
  ].join("\n");
}

/** `loopy review --help`: the group's commands, one line each. */
export function groupHelp(group: string, commands: AnyCommand[]): string {
  return [
    `loopy ${group}: ${commands.map((c) => c.name.slice(group.length + 1)).join(", ")}`,
    "",
    ...commands.map((c) => row(synopsis(c), c.summary)),
    "",
    `Run loopy ${group} <command> --help for a command's options.`,
  ].join("\n");
}

/** `loopy --help`: every command on one line. */
export function mainHelp(commands: AnyCommand[]): string {
  return [
    "loopy: control a running Loopy (LOOPY_URL, default http://127.0.0.1:3000)",
    "Authenticates with LOOPY_TOKEN, else the token file in LOOPY_HOME (default ./.loopy) that npm start writes.",
    "",
    "Commands:",
    ...commands.map((c) => row(synopsis(c), c.summary)),
    "",
    "Run loopy <command> --help (or loopy help <command>) for a command's options.",
    "Every command takes --json and then prints one JSON document.",
    "Terminal escape sequences and control characters (from agents' output) are removed from what is printed; --raw keeps them.",
    "Exit codes: 0 ok, 1 error, 2 bad usage, 3 the waited-for run failed, was cancelled or needs attention (a fleet: failed or was cancelled).",
  ].join("\n");
}

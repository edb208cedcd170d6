import { closest, UsageError } from "../args.ts";
import type { AnyCommand } from "../command.ts";
import { accessCommands } from "./access.ts";
import { fleetCommands } from "./fleet.ts";
import { profileCommands } from "./profiles.ts";
import { projectCommands } from "./projects.ts";
import { researchCommands } from "./research.ts";
import { resultCommands } from "./research-results.ts";
import { reviewCommands } from "./review.ts";
import { runCommands } from "./runs.ts";
import { secretCommands } from "./secrets.ts";
import { tokenCommands } from "./tokens.ts";
import { userCommands } from "./users.ts";

/** Every command, in the order `loopy --help` lists them. */
export const COMMANDS: readonly AnyCommand[] = [
  ...projectCommands,
  ...profileCommands,
  ...runCommands,
  ...reviewCommands,
  ...researchCommands,
  ...resultCommands,
  ...fleetCommands,
  ...secretCommands,
  ...accessCommands.slice(0, 2),
  ...userCommands,
  ...tokenCommands,
  ...accessCommands.slice(2),
] as AnyCommand[];

/** Options that may come before the command's words: `loopy --json runs`. */
const LEADING = new Set(["--json", "--raw", "--help", "-h"]);

export type Resolved =
  /** No command given. */
  | { kind: "none" }
  /** A group's word alone (`loopy review`): its commands. */
  | { kind: "group"; group: string; commands: AnyCommand[]; rest: string[] }
  /** A command, and argv without its words. */
  | { kind: "command"; command: AnyCommand; rest: string[] };

const byName = (name: string) => COMMANDS.find((c) => c.name === name);
/** The commands whose first word is `group` and that have a second ("review approve" for "review"). */
export const groupOf = (group: string) => COMMANDS.filter((c) => c.name.startsWith(`${group} `));

function unknownCommand(words: string[], group: AnyCommand[]): UsageError {
  const [first, second] = words as [string, string | undefined];
  if (group.length && second !== undefined) {
    const subs = group.map((c) => c.name.slice(first.length + 1));
    const near = closest(second, subs);
    return new UsageError(
      `unknown command "${first} ${second}"`,
      `${near ? `Did you mean \`loopy ${first} ${near}\`? ` : ""}\`loopy ${first}\` takes: ${subs.join(", ")}.`,
      first,
    );
  }
  const near = closest(first, [...new Set(COMMANDS.map((c) => c.name.split(" ")[0] as string))]);
  return new UsageError(`unknown command "${first}"`, near ? `Did you mean \`loopy ${near}\`?` : undefined);
}

/**
 * Finds the command argv names: its first one or two words (global flags may come before them).
 * Throws UsageError for a command that does not exist.
 */
export function resolveCommand(argv: readonly string[]): Resolved {
  const at: number[] = [];
  for (let i = 0; i < argv.length && at.length < 2; i++) {
    const token = argv[i] as string;
    if (LEADING.has(token)) continue;
    if (token.startsWith("-") && token !== "-") break;
    at.push(i);
  }
  const words = at.map((i) => argv[i] as string);
  const without = (n: number) => argv.filter((_, i) => !at.slice(0, n).includes(i));
  const [first, second] = words;
  if (first === undefined) return { kind: "none" };
  const group = groupOf(first);
  const pair = second === undefined ? undefined : byName(`${first} ${second}`);
  if (pair) return { kind: "command", command: pair, rest: without(2) };
  const single = byName(first);
  // `loopy research sideways`: a group's own command takes no arguments, so "sideways" is a wrong subcommand.
  if (single && !(group.length && second !== undefined && !single.args?.length))
    return { kind: "command", command: single, rest: without(1) };
  if (group.length && second === undefined) return { kind: "group", group: first, commands: group, rest: without(1) };
  throw unknownCommand(words, group);
}

/** The other commands that take option `name`, for the hint after an unknown option. */
export function optionOwners(command: AnyCommand): (name: string) => string[] {
  return (name) => COMMANDS.filter((c) => c !== command && Object.hasOwn(c.options, name)).map((c) => c.name);
}

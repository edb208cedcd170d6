import type { OptionSpecs, OptionValues } from "./args.ts";
import type { LoopyClient } from "./client.ts";

/** Prints `json` under --json, else what `human` returns. */
export type Print = (json: unknown, human: () => string) => void;

/** What a command's handler gets. */
export interface Context<O extends OptionSpecs> {
  client: LoopyClient;
  /** The Loopy it talks to (LOOPY_URL). */
  baseUrl: string;
  /** The positional arguments, as many as the command declares (required ones are there). */
  args: string[];
  /** The options, parsed and typed from the command's declarations. */
  opts: OptionValues<O>;
  print: Print;
}

/** One `loopy` command: its words, what it takes, and its handler. Usage and --help are generated from this. */
export interface Command<O extends OptionSpecs = OptionSpecs> {
  /** The words that select it: "runs", "review approve". */
  name: string;
  /** Positional arguments in usage form: "<run-id>" is required, "[ROLE]" optional. */
  args?: readonly string[];
  /** One line, for `loopy --help`. */
  summary: string;
  /** More lines for `loopy <command> --help`. */
  details?: string;
  options: O;
  /** Runs the command; returns the exit code. */
  run(ctx: Context<O>): Promise<number>;
}

/** Declares a command, typing its handler's options from the declarations. */
export function command<const O extends OptionSpecs>(spec: Command<O>): Command<O> {
  return spec;
}

/** Any command, whatever its options (for tables of them). */
export type AnyCommand = Command<OptionSpecs>;

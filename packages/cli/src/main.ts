import { parseArgv, UsageError, wantsHelp } from "./args.ts";
import { createLoopyClient, describeError, loopyUrl } from "./client.ts";
import type { AnyCommand } from "./command.ts";
import { COMMANDS, groupOf, optionOwners, resolveCommand } from "./commands/index.ts";
import { commandHelp, groupHelp, mainHelp } from "./help.ts";
import { escapeJsonControls, guardTerminal } from "./terminal.ts";

const argv = process.argv.slice(2);
const baseUrl = loopyUrl();
/** The command being run, for the "See loopy <command> --help." after a usage error. */
let current: string | undefined;

// What agents wrote reaches the terminal without its escape sequences (see terminal.ts), unless --raw.
const end = argv.indexOf("--");
if (!(end < 0 ? argv : argv.slice(0, end)).includes("--raw")) {
  guardTerminal(process.stdout);
  guardTerminal(process.stderr);
}

function out(text: string): number {
  process.stdout.write(`${text}\n`);
  return 0;
}

/** `loopy <command> ...`, `loopy <command> --help`, `loopy help [<command>]`, `loopy --help`. */
async function main(): Promise<number> {
  const help = argv[0] === "help";
  const found = resolveCommand(help ? argv.slice(1) : argv);
  if (found.kind === "none") {
    out(mainHelp([...COMMANDS]));
    return help || wantsHelp(argv) ? 0 : 2;
  }
  if (found.kind === "group") {
    if (help || wantsHelp(found.rest)) return out(groupHelp(found.group, found.commands));
    const subs = found.commands.map((c) => c.name.slice(found.group.length + 1));
    throw new UsageError(`\`loopy ${found.group}\` needs a command: ${subs.join(", ")}`, undefined, found.group);
  }
  const cmd: AnyCommand = found.command;
  current = cmd.name;
  if (help || wantsHelp(found.rest)) return out(commandHelp(cmd, cmd.name.includes(" ") ? [] : groupOf(cmd.name)));
  const { options, positionals } = parseArgv(cmd, found.rest, optionOwners(cmd));
  const json = options.json === true;
  return cmd.run({
    client: createLoopyClient(baseUrl),
    baseUrl,
    args: positionals,
    opts: options as never,
    print: (doc, human) =>
      process.stdout.write(json ? `${escapeJsonControls(JSON.stringify(doc, null, 2))}\n` : `${human()}\n`),
  });
}

/**
 * Exits once stdout and stderr have handed everything to the OS: writes to a
 * pipe are asynchronous, and process.exit() would cut a large --json document.
 */
function exitAfterFlush(code: number): void {
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}

main().then(exitAfterFlush, (error: unknown) => {
  if (error instanceof UsageError) {
    const command = error.command ?? current;
    const see = `See loopy ${command ? `${command} ` : ""}--help.`;
    process.stderr.write(`loopy: ${error.message}\n${error.hint ? `${error.hint} ` : ""}${see}\n`);
    exitAfterFlush(2);
  } else {
    process.stderr.write(`loopy: ${describeError(error, baseUrl)}\n`);
    exitAfterFlush(1);
  }
});

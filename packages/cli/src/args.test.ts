import { describe, expect, it } from "vitest";
import { closest, GLOBAL_OPTIONS, type OptionSpecs, parseArgv, UsageError } from "./args.ts";
import { COMMANDS, optionOwners, resolveCommand } from "./commands/index.ts";
import { run } from "./commands/runs.ts";
import { commandHelp, groupHelp, mainHelp, synopsis } from "./help.ts";

const target = {
  name: "thing add",
  args: ["<id>", "[EXTRA]"],
  options: {
    project: { type: "string", short: "p", value: "P", required: true, help: "the project" },
    count: { type: "number", help: "how many" },
    tag: { type: "string", multiple: true, help: "a tag" },
    wait: { type: "boolean", help: "wait" },
    follow: { type: "boolean", short: "f", help: "follow" },
    direction: { type: "string", choices: ["min", "max"], help: "which way" },
  },
} satisfies { name: string; args: string[]; options: OptionSpecs };

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error("expected a UsageError");
}

describe("parseArgv", () => {
  it("parses booleans, strings, numbers and repeatable options, anywhere among the positionals", () => {
    const { options, positionals } = parseArgv(target, [
      "--project",
      "demo",
      "id-1",
      "--count=3",
      "--tag",
      "a",
      "--wait",
      "--tag=b",
      "extra",
      "--json",
    ]);
    expect(options).toMatchObject({ project: "demo", count: 3, tag: ["a", "b"], wait: true, json: true });
    expect(options).toMatchObject({ follow: false, raw: false, help: false });
    expect(options.direction).toBeUndefined();
    expect(positionals).toEqual(["id-1", "extra"]);
  });

  it("takes short options (-p V, -pV, grouped booleans), negative numbers, and everything after -- as positionals", () => {
    expect(parseArgv(target, ["-p", "x", "id"]).options.project).toBe("x");
    expect(parseArgv(target, ["-px", "id"]).options.project).toBe("x");
    expect(parseArgv(target, ["-fh", "-p", "x", "id"]).options).toMatchObject({ follow: true, help: true });
    expect(parseArgv(target, ["-p", "x", "--count", "-2", "id"]).options.count).toBe(-2);
    expect(parseArgv(target, ["-p", "x", "--", "--not-an-option"]).positionals).toEqual(["--not-an-option"]);
  });

  it("refuses an unknown option, naming the command and the closest option", () => {
    const error = usageError(() => parseArgv(target, ["--projet", "x", "id"]));
    expect(error.message).toBe("unknown option --projet for `loopy thing add`");
    expect(error.hint).toBe("Did you mean --project?");
    expect(error.command).toBe("thing add");
    expect(usageError(() => parseArgv(target, ["-z"])).message).toBe("unknown option -z for `loopy thing add`");
  });

  it("says which other commands take an unknown option: loopy run --metric", () => {
    const error = usageError(() => parseArgv(run, ["--project", "p", "--metric", "x"], optionOwners(run)));
    expect(error.message).toBe("unknown option --metric for `loopy run`");
    expect(error.hint).toBe("--metric is an option of `loopy research`, `loopy fleet launch`.");
  });

  it("refuses missing values, bad numbers and choices, missing required options and arguments, extra arguments", () => {
    expect(usageError(() => parseArgv(target, ["id", "--project"])).message).toBe(
      "--project needs a value (--project P)",
    );
    expect(usageError(() => parseArgv(target, ["id", "--project", "--wait"])).message).toMatch(/needs a value/);
    expect(usageError(() => parseArgv(target, ["id", "-p", "x", "--count", "lots"])).message).toBe(
      '--count must be a number, got "lots"',
    );
    expect(usageError(() => parseArgv(target, ["id", "-p", "x", "--count="])).message).toMatch(/must be a number/);
    expect(usageError(() => parseArgv(target, ["id", "-p", "x", "--direction", "up"])).message).toBe(
      '--direction must be min or max, got "up"',
    );
    expect(usageError(() => parseArgv(target, ["id", "-p", "x", "--wait=yes"])).message).toMatch(/takes no value/);
    expect(usageError(() => parseArgv(target, ["id"])).message).toBe("missing --project");
    expect(usageError(() => parseArgv(target, ["-p", "x"])).message).toBe("missing <id>");
    const extra = usageError(() => parseArgv(target, ["-p", "x", "a", "b", "c"]));
    expect(extra.message).toBe('unexpected argument "c" for `loopy thing add`');
    expect(extra.hint).toBe("It takes <id> [EXTRA].");
  });

  it("suggests the closest word only when it is close", () => {
    expect(closest("tiemout", ["timeout", "base"])).toBe("timeout");
    expect(closest("proj", ["project", "prompt"])).toBe("project");
    expect(closest("metric", ["project", "agent", "timeout", "secret"])).toBeUndefined();
  });
});

describe("help", () => {
  it("is generated from a command's declarations", () => {
    const text = commandHelp(run);
    expect(text).toMatch(/^Usage: loopy run --project P \[options\]/);
    for (const [name, spec] of Object.entries({ ...run.options, ...GLOBAL_OPTIONS })) {
      expect(text).toContain(`--${name}`);
      expect(text).toContain(spec.help);
    }
    expect(text).toMatch(/-p, --project P\s+the project \(name or id\) \(required\)/);
    expect(text).toMatch(/--secret NAME\s+.*\(repeatable\)/);
  });

  it("loopy --help lists every command, one line each (its summary after it, or below when it is long)", () => {
    const text = mainHelp([...COMMANDS]);
    for (const cmd of COMMANDS) expect(text).toContain(`  ${synopsis(cmd)}`);
    expect(text).toContain("loopy review comment <run-id> --file F --line N --message TEXT");
    expect(
      groupHelp(
        "review",
        [...COMMANDS].filter((c) => c.name.startsWith("review ")),
      ),
    ).toContain("loopy review approve <run-id> [options]");
  });
});

describe("the command table", () => {
  it("resolves one- and two-word commands, groups, and global flags before them", () => {
    const name = (argv: string[]) => {
      const found = resolveCommand(argv);
      return found.kind === "command" ? [found.command.name, found.rest] : found.kind;
    };
    expect(name(["review", "approve", "r1", "--discard-comments"])).toEqual([
      "review approve",
      ["r1", "--discard-comments"],
    ]);
    expect(name(["--json", "runs", "--limit", "3"])).toEqual(["runs", ["--json", "--limit", "3"]]);
    expect(name(["research", "--project", "p"])).toEqual(["research", ["--project", "p"]]);
    expect(name(["research", "list"])).toEqual(["research list", []]);
    expect(name(["user", "role", "ada", "admin"])).toEqual(["user role", ["ada", "admin"]]);
    expect(name(["review"])).toBe("group");
    expect(name([])).toBe("none");
    expect(usageError(() => resolveCommand(["frobnicate"])).message).toBe('unknown command "frobnicate"');
    expect(usageError(() => resolveCommand(["reveiw", "list"])).hint).toBe("Did you mean `loopy review`?");
    expect(usageError(() => resolveCommand(["research", "sideways"])).message).toBe(
      'unknown command "research sideways"',
    );
  });

  it("has unique names, and an option name means the same kind of value in every command", () => {
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
    const types = new Map<string, string>();
    for (const cmd of COMMANDS)
      for (const [name, spec] of Object.entries(cmd.options)) {
        expect(Object.hasOwn(GLOBAL_OPTIONS, name), `${cmd.name} redeclares --${name}`).toBe(false);
        expect(spec.short === "h", `${cmd.name} --${name} takes -h`).toBe(false);
        const kind = `${spec.type}${spec.multiple ? "[]" : ""}`;
        expect(types.get(name) ?? kind, `--${name} in ${cmd.name}`).toBe(kind);
        types.set(name, kind);
      }
  });
});

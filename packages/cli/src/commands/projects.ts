import { resolve } from "node:path";
import { command } from "../command.ts";
import { table } from "../format.ts";

const projectAdd = command({
  name: "project add",
  args: ["<path>"],
  summary: "register a local git repository (each --check is a required checkpoint)",
  options: {
    name: { type: "string", value: "N", help: "the project's name (default: the directory's name)" },
    check: {
      type: "string",
      value: '"<cmd>"',
      multiple: true,
      help: "a command that must pass after each turn (a required checkpoint)",
    },
  },
  async run({ client, args, opts, print }) {
    const checkpoints = (opts.check ?? []).map((cmd, i) => ({ name: `check-${i + 1}`, kind: "command", command: cmd }));
    const project = await client.projects.add.mutate({
      path: resolve(args[0] as string),
      name: opts.name,
      checkpoints,
    });
    print(
      project,
      () => `Registered ${project.name} (${project.id}) at ${project.path}, default branch ${project.defaultBranch}`,
    );
    return 0;
  },
});

const projects = command({
  name: "projects",
  summary: "list projects",
  options: {},
  async run({ client, print }) {
    const list = await client.projects.list.query();
    print(list, () =>
      list.length === 0
        ? "No projects. Add one with: loopy project add <path>"
        : table(
            list.map((p) => ({ id: p.id, name: p.name, branch: p.defaultBranch, path: p.path })),
            ["id", "name", "branch", "path"],
          ),
    );
    return 0;
  },
});

export const projectCommands = [projectAdd, projects];

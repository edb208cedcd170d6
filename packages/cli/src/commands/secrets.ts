import { UsageError } from "../args.ts";
import { command } from "../command.ts";
import { table, time } from "../format.ts";

/** The value from stdin (piped, or typed and ended with Ctrl-D); one trailing newline is dropped. */
async function readValue(name: string): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write(`Value of ${name} (then Enter and Ctrl-D): `);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const value = Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
  if (!value) throw new UsageError(`no value on stdin (e.g. printf '%s' "$KEY" | loopy secret set ${name})`);
  return value;
}

/** `loopy secrets`: names only; values are never printed. */
const secrets = command({
  name: "secrets",
  summary: "names of the stored secrets (never values; admin)",
  options: {},
  async run({ client, print }) {
    const list = await client.secrets.list.query();
    print(list, () =>
      list.length === 0
        ? "No secrets. Store one with: printf '%s' \"$KEY\" | loopy secret set NAME"
        : table(
            list.map((s) => ({ name: s.name, updated: time(s.updatedAt), by: s.updatedBy ?? "-" })),
            ["name", "updated", "by"],
          ),
    );
    return 0;
  },
});

const secretSet = command({
  name: "secret set",
  args: ["NAME"],
  summary: "store a secret (a model API key), value on stdin, encrypted; replaces one of that name",
  options: {},
  async run({ client, args, print }) {
    const name = args[0] as string;
    const saved = await client.secrets.set.mutate({ name, value: await readValue(name) });
    print(
      saved,
      () =>
        `Stored secret ${saved.name}. Agents get it when their profile (secrets: ["${saved.name}"]) or run (--secret ${saved.name}) names it.`,
    );
    return 0;
  },
});

const secretDelete = command({
  name: "secret delete",
  args: ["NAME"],
  summary: "delete a stored secret",
  options: {},
  async run({ client, args, print }) {
    const deleted = await client.secrets.delete.mutate({ name: args[0] as string });
    print(deleted, () => `Deleted secret ${deleted.name}`);
    return 0;
  },
});

export const secretCommands = [secrets, secretSet, secretDelete];

import type { LoopyClient } from "./client.ts";
import { table, time } from "./format.ts";

export class SecretsUsageError extends Error {}
type Print = (json: unknown, human: () => string) => void;

/** The value from stdin (piped, or typed and ended with Ctrl-D); one trailing newline is dropped. */
async function readValue(name: string): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write(`Value of ${name} (then Enter and Ctrl-D): `);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const value = Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
  if (!value) throw new SecretsUsageError(`no value on stdin (e.g. printf '%s' "$KEY" | loopy secret set ${name})`);
  return value;
}

/** `loopy secrets`, `loopy secret set NAME` (value on stdin), `loopy secret delete NAME`. Values are never printed. */
export async function secretsCommand(
  client: LoopyClient,
  command: string,
  args: string[],
  print: Print,
): Promise<number> {
  if (command === "secrets") {
    const secrets = await client.secrets.list.query();
    print(secrets, () =>
      secrets.length === 0
        ? "No secrets. Store one with: printf '%s' \"$KEY\" | loopy secret set NAME"
        : table(
            secrets.map((s) => ({ name: s.name, updated: time(s.updatedAt), by: s.updatedBy ?? "-" })),
            ["name", "updated", "by"],
          ),
    );
    return 0;
  }
  const [action, name] = args;
  if (!name) throw new SecretsUsageError(`missing NAME (loopy secret ${action ?? "set"} NAME)`);
  switch (action) {
    case "set": {
      const saved = await client.secrets.set.mutate({ name, value: await readValue(name) });
      print(
        saved,
        () =>
          `Stored secret ${saved.name}. Agents get it when their profile (secrets: ["${saved.name}"]) or run (--secret ${saved.name}) names it.`,
      );
      return 0;
    }
    case "delete": {
      const deleted = await client.secrets.delete.mutate({ name });
      print(deleted, () => `Deleted secret ${deleted.name}`);
      return 0;
    }
    default:
      throw new SecretsUsageError(`unknown command "secret ${action ?? ""}" (set, delete)`);
  }
}

import { orList, UsageError } from "../args.ts";
import { command } from "../command.ts";
import { table, time } from "../format.ts";

export const ROLES = ["viewer", "reviewer", "operator", "admin"] as const;
type Role = (typeof ROLES)[number];

/** A password from stdin (piped, or typed and ended with Enter / Ctrl-D); one trailing newline is dropped. */
async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write("Password (then Enter and Ctrl-D): ");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
  if (!text) throw new UsageError("no password on stdin (e.g. printf '%s' \"$PASSWORD\" | loopy user passwd NAME)");
  return text;
}

const users = command({
  name: "users",
  summary: "users: name, role, how they sign in",
  options: {},
  async run({ client, print }) {
    const list = await client.auth.users.query();
    print(list, () =>
      table(
        list.map((u) => ({
          name: u.name,
          role: u.role,
          "sign-in": u.disabled ? "disabled" : u.canSignIn ? "password" : "tokens only",
          created: time(u.createdAt),
        })),
        ["name", "role", "sign-in", "created"],
      ),
    );
    return 0;
  },
});

const userAdd = command({
  name: "user add",
  args: ["NAME"],
  summary: "add a user (password from stdin, else tokens only)",
  options: { role: { type: "string", choices: ROLES, help: "what they may do (default viewer)" } },
  async run({ client, args, opts, print }) {
    const user = await client.auth.createUser.mutate({
      name: args[0] as string,
      role: opts.role ?? "viewer",
      ...(process.stdin.isTTY ? {} : { password: await readPassword() }),
    });
    const note = user.canSignIn ? "" : "; tokens only (pipe a password on stdin to let them sign in)";
    print(user, () => `Added ${user.name} (${user.role})${note}`);
    return 0;
  },
});

const userPasswd = command({
  name: "user passwd",
  args: ["NAME"],
  summary: "set a user's password (from stdin); their browser sessions end",
  options: {},
  async run({ client, args, print }) {
    const user = await client.auth.updateUser.mutate({ name: args[0] as string, password: await readPassword() });
    print(user, () => `Password of ${user.name} changed; their browser sessions ended`);
    return 0;
  },
});

const userRole = command({
  name: "user role",
  args: ["NAME", "[ROLE]"],
  summary: "change a user's role (--role R, or ROLE)",
  options: { role: { type: "string", choices: ROLES, help: "the new role" } },
  async run({ client, args, opts, print }) {
    const role = opts.role ?? args[1];
    if (role === undefined) throw new UsageError(`missing --role (${orList(ROLES)})`);
    if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be ${orList(ROLES)}`);
    const user = await client.auth.updateUser.mutate({ name: args[0] as string, role: role as Role });
    print(user, () => `${user.name} is now ${user.role}`);
    return 0;
  },
});

function enableOrDisable(action: "enable" | "disable", summary: string) {
  return command({
    name: `user ${action}`,
    args: ["NAME"],
    summary,
    options: {},
    async run({ client, args, print }) {
      const user = await client.auth.updateUser.mutate({ name: args[0] as string, disabled: action === "disable" });
      print(user, () => `${user.name} ${user.disabled ? "disabled (sessions ended, tokens refused)" : "enabled"}`);
      return 0;
    },
  });
}

export const userCommands = [
  users,
  userAdd,
  userPasswd,
  userRole,
  enableOrDisable("disable", "disable a user: sessions end, tokens are refused"),
  enableOrDisable("enable", "enable a disabled user"),
];

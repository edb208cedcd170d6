import type { LoopyClient } from "./client.ts";
import { table, time } from "./format.ts";

/** Flags the access commands read (parsed once in main.ts). */
export interface AccessFlags {
  json: boolean;
  role?: string;
  user?: string;
  name?: string;
  action?: string;
  actor?: string;
  limit?: string;
}

export class AccessUsageError extends Error {}
type Print = (json: unknown, human: () => string) => void;
const ROLES = ["viewer", "reviewer", "operator", "admin"] as const;
type Role = (typeof ROLES)[number];

function role(value: string | undefined): Role | undefined {
  if (value === undefined) return undefined;
  if (!(ROLES as readonly string[]).includes(value))
    throw new AccessUsageError(`--role must be one of ${ROLES.join(", ")}`);
  return value as Role;
}

function need(value: string | undefined, what: string): string {
  if (!value) throw new AccessUsageError(`missing ${what}`);
  return value;
}

/** A password from stdin (piped, or typed and ended with Enter / Ctrl-D); one trailing newline is dropped. */
async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write("Password (then Enter and Ctrl-D): ");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
  if (!text)
    throw new AccessUsageError("no password on stdin (e.g. printf '%s' \"$PASSWORD\" | loopy user passwd NAME)");
  return text;
}

/** `loopy whoami`, `loopy users`, `loopy user add|passwd|role|disable|enable`, `loopy tokens`, `loopy token create|revoke`, `loopy audit`. */
export async function accessCommand(
  client: LoopyClient,
  command: string,
  args: string[],
  flags: AccessFlags,
  print: Print,
): Promise<number> {
  switch (command) {
    case "whoami": {
      const me = await client.auth.me.query();
      print(me, () => `${me.name} (${me.role}, via ${me.via})`);
      return 0;
    }
    case "users": {
      const users = await client.auth.users.query();
      print(users, () =>
        table(
          users.map((u) => ({
            name: u.name,
            role: u.role,
            "sign-in": u.disabled ? "disabled" : u.canSignIn ? "password" : "tokens only",
            created: time(u.createdAt),
          })),
          ["name", "role", "sign-in", "created"],
        ),
      );
      return 0;
    }
    case "user": {
      const [action, name] = args;
      switch (action) {
        case "add": {
          const user = await client.auth.createUser.mutate({
            name: need(name, "<name>"),
            role: role(flags.role) ?? "viewer",
            ...(process.stdin.isTTY ? {} : { password: await readPassword() }),
          });
          print(
            user,
            () =>
              `Added ${user.name} (${user.role})${user.canSignIn ? "" : "; tokens only (pipe a password on stdin to let them sign in)"}`,
          );
          return 0;
        }
        case "passwd": {
          const user = await client.auth.updateUser.mutate({
            name: need(name, "<name>"),
            password: await readPassword(),
          });
          print(user, () => `Password of ${user.name} changed; their browser sessions ended`);
          return 0;
        }
        case "role": {
          const user = await client.auth.updateUser.mutate({
            name: need(name, "<name>"),
            role: need(role(flags.role ?? args[2]), "--role") as Role,
          });
          print(user, () => `${user.name} is now ${user.role}`);
          return 0;
        }
        case "disable":
        case "enable": {
          const user = await client.auth.updateUser.mutate({
            name: need(name, "<name>"),
            disabled: action === "disable",
          });
          print(user, () => `${user.name} ${user.disabled ? "disabled (sessions ended, tokens refused)" : "enabled"}`);
          return 0;
        }
        default:
          throw new AccessUsageError(`unknown command "user ${action ?? ""}" (add, passwd, role, disable, enable)`);
      }
    }
    case "tokens": {
      const tokens = await client.auth.tokens.query();
      print(tokens, () =>
        table(
          tokens.map((t) => ({
            id: t.id,
            name: t.name,
            user: t.user,
            role: t.role,
            starts: `${t.prefix}…`,
            "last used": t.lastUsedAt ? time(t.lastUsedAt) : "never",
            state: t.revoked ? "revoked" : "active",
          })),
          ["id", "name", "user", "role", "starts", "last used", "state"],
        ),
      );
      return 0;
    }
    case "token": {
      const [action, id] = args;
      if (action === "create") {
        const token = await client.auth.createToken.mutate({
          name: need(flags.name, "--name"),
          ...(flags.user ? { user: flags.user } : {}),
          ...(flags.role ? { role: role(flags.role) } : {}),
        });
        print(token, () => `Token ${token.id} for ${token.user} (${token.role}); shown once:\n${token.token}`);
        return 0;
      }
      if (action === "revoke") {
        const revoked = await client.auth.revokeToken.mutate({ id: need(id, "<token-id>") });
        print(revoked, () => `Token ${revoked.id} revoked`);
        return 0;
      }
      throw new AccessUsageError(`unknown command "token ${action ?? ""}" (create, revoke)`);
    }
    case "audit": {
      const limit = flags.limit ? Number(flags.limit) : 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 500)
        throw new AccessUsageError("--limit must be a whole number from 1 to 500");
      const page = await client.auth.audit.query({
        ...(flags.action ? { action: flags.action } : {}),
        ...(flags.actor ? { actor: flags.actor } : {}),
        limit,
      });
      print(page, () =>
        table(
          page.entries.map((e) => ({
            when: time(e.at),
            who: e.actor,
            action: e.action,
            target: e.targetId ?? "",
            details: Object.keys(e.detail).length ? JSON.stringify(e.detail).slice(0, 80) : "",
          })),
          ["when", "who", "action", "target", "details"],
        ),
      );
      return 0;
    }
    default:
      throw new AccessUsageError(`unknown command "${command}"`);
  }
}

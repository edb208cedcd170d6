import { command } from "../command.ts";
import { table, time } from "../format.ts";
import { ROLES } from "./users.ts";

const tokens = command({
  name: "tokens",
  summary: "API tokens for the CLI and automation (shown once, stored hashed)",
  options: {},
  async run({ client, print }) {
    const list = await client.auth.tokens.query();
    print(list, () =>
      table(
        list.map((t) => ({
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
  },
});

const tokenCreate = command({
  name: "token create",
  summary: "create an API token; it is shown once",
  options: {
    name: { type: "string", value: "WHAT", required: true, help: "what the token is for" },
    user: { type: "string", value: "U", help: "whose token (default: yours; admin)" },
    role: { type: "string", choices: ROLES, help: "the token's role (at most its user's)" },
  },
  async run({ client, opts, print }) {
    const token = await client.auth.createToken.mutate({
      name: opts.name,
      ...(opts.user ? { user: opts.user } : {}),
      ...(opts.role ? { role: opts.role } : {}),
    });
    print(token, () => `Token ${token.id} for ${token.user} (${token.role}); shown once:\n${token.token}`);
    return 0;
  },
});

const tokenRevoke = command({
  name: "token revoke",
  args: ["<token-id>"],
  summary: "revoke an API token",
  options: {},
  async run({ client, args, print }) {
    const revoked = await client.auth.revokeToken.mutate({ id: args[0] as string });
    print(revoked, () => `Token ${revoked.id} revoked`);
    return 0;
  },
});

export const tokenCommands = [tokens, tokenCreate, tokenRevoke];

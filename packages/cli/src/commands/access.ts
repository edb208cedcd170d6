import { UsageError } from "../args.ts";
import { command } from "../command.ts";
import { table, time } from "../format.ts";

const whoami = command({
  name: "whoami",
  summary: "who the token belongs to, and its role",
  options: {},
  async run({ client, print }) {
    const me = await client.auth.me.query();
    print(me, () => `${me.name} (${me.role}, via ${me.via})`);
    return 0;
  },
});

const signInLink = command({
  name: "sign-in-link",
  summary: "a one-time link that signs a browser in as the token's user (valid 15 minutes)",
  options: {},
  async run({ client, baseUrl, print }) {
    const { code, expiresAt } = await client.auth.signInLink.mutate();
    const link = `${baseUrl.replace(/\/+$/, "")}/login#code=${code}`;
    print({ link, expiresAt }, () => `${link}\n(one-time; valid until ${time(expiresAt)} UTC)`);
    return 0;
  },
});

const audit = command({
  name: "audit",
  summary: "who launched, reviewed, approved, merged, changed what, and when",
  options: {
    action: { type: "string", value: "PATH|PREFIX.", help: "only this action, or actions starting PREFIX." },
    actor: { type: "string", value: "NAME", help: "only what this user did" },
    limit: { type: "number", help: "at most this many entries (1 to 500, default 50)" },
  },
  async run({ client, opts, print }) {
    const limit = opts.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 500)
      throw new UsageError("--limit must be a whole number from 1 to 500");
    const page = await client.auth.audit.query({
      ...(opts.action ? { action: opts.action } : {}),
      ...(opts.actor ? { actor: opts.actor } : {}),
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
  },
});

export const accessCommands = [whoami, signInLink, audit];

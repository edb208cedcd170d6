import { command } from "../command.ts";
import { table } from "../format.ts";

const profileAdd = command({
  name: "profile add",
  args: ["NAME"],
  summary: "save an agent profile",
  details: [
    "Adapters: command, claude-code, codex, gemini, opencode, openai-compatible.",
    "Each --secret is a stored secret, else the worker's environment variable of that name.",
  ].join("\n"),
  options: {
    adapter: { type: "string", value: "A", required: true, help: "the agent adapter (e.g. claude-code, codex)" },
    model: { type: "string", value: "M", help: "the model the agent uses" },
    "base-url": { type: "string", value: "URL", help: "the model API's URL (openai-compatible)" },
    "max-turns": { type: "number", help: "the agent's turn limit" },
    secret: { type: "string", value: "NAME", multiple: true, help: "a secret the agent gets in its environment" },
    "budget-usd": { type: "number", value: "X", help: "stop a run of this profile after spending this much" },
  },
  async run({ client, args, opts, print }) {
    const profile = await client.profiles.add.mutate({
      name: args[0] as string,
      adapter: opts.adapter,
      config: {
        ...(opts.model ? { model: opts.model } : {}),
        ...(opts["base-url"] ? { baseUrl: opts["base-url"] } : {}),
        ...(opts["max-turns"] !== undefined ? { maxTurns: opts["max-turns"] } : {}),
        ...(opts["budget-usd"] !== undefined ? { budgetUsd: opts["budget-usd"] } : {}),
        ...(opts.secret?.length ? { secretNames: opts.secret } : {}),
      },
    });
    print(
      profile,
      () =>
        `Saved profile ${profile.name} (${profile.adapter}${profile.config.model ? `, ${profile.config.model}` : ""})`,
    );
    return 0;
  },
});

const profiles = command({
  name: "profiles",
  summary: "list agent profiles",
  options: {},
  async run({ client, print }) {
    const list = await client.profiles.list.query();
    print(list, () =>
      list.length === 0
        ? "No profiles. Add one with: loopy profile add NAME --adapter claude-code --model M"
        : table(
            list.map((p) => ({
              name: p.name,
              adapter: p.adapter,
              model: p.config.model ?? "-",
              "base url": p.config.baseUrl ?? "-",
            })),
            ["name", "adapter", "model", "base url"],
          ),
    );
    return 0;
  },
});

export const profileCommands = [profileAdd, profiles];

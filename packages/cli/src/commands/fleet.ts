import type { LoopyClient } from "../client.ts";
import { command } from "../command.ts";
import { duration, table } from "../format.ts";

type Fleet = Awaited<ReturnType<LoopyClient["fleets"]["get"]["query"]>>;

const ENDED = new Set(["completed", "failed", "cancelled"]);

function describeFleet(fleet: Fleet): string {
  const budget = [
    fleet.budget.usd !== null ? `$${fleet.spent.usd.toFixed(4)} of $${fleet.budget.usd}` : null,
    fleet.budget.tokens !== null ? `${fleet.spent.tokens} of ${fleet.budget.tokens} tokens` : null,
    fleet.budget.wallClockMs !== null
      ? `${Math.round(fleet.spent.wallClockMs / 1000)}s of ${Math.round(fleet.budget.wallClockMs / 1000)}s`
      : null,
  ].filter(Boolean);
  const head = [
    `fleet     ${fleet.id}  ${fleet.name}`,
    `kind      ${fleet.kind}   concurrency ${fleet.concurrency}`,
    `status    ${fleet.status}${fleet.statusReason ? ` (${fleet.statusReason})` : ""}`,
    `progress  ${fleet.progress.finished}/${fleet.progress.total} finished`,
    `spent     $${fleet.spent.usd.toFixed(4)}, ${fleet.spent.tokens} tokens${budget.length ? `   budget: ${budget.join(", ")}` : ""}`,
    ...(fleet.metric ? [`metric    ${fleet.metric.name} (${fleet.metric.direction})`] : []),
  ];
  const ranked = fleet.kind === "best_of_n";
  const members = [...fleet.members].sort((a, b) =>
    ranked ? (a.rank ?? 0) - (b.rank ?? 0) : a.memberIndex - b.memberIndex,
  );
  const rows = members.map((m) => ({
    ...(ranked ? { rank: String(m.rank ?? "-") } : {}),
    "#": String(m.memberIndex),
    run: m.id,
    status: m.status,
    agent: m.profile ?? m.agent,
    checks: m.checksPassed === null ? "-" : m.checksPassed ? "green" : "red",
    diff: m.diffLines === null ? "-" : `+${m.additions ?? 0} -${m.deletions ?? 0}`,
    cost: m.costUsd ? `$${m.costUsd.toFixed(4)}` : "-",
    ...(fleet.metric ? { metric: m.metric === null ? "-" : String(m.metric) } : {}),
    time: duration(m.startedAt, m.finishedAt),
    project: m.project.name,
  }));
  const columns = [
    ...(ranked ? ["rank"] : []),
    "#",
    "run",
    "status",
    "agent",
    "checks",
    "diff",
    "cost",
    ...(fleet.metric ? ["metric"] : []),
    "time",
    "project",
  ];
  return [...head, "", table(rows, columns)].join("\n");
}

/** Resolves when the fleet has ended (completed, failed, cancelled), following changes over SSE. */
function waitForFleet(client: LoopyClient, fleetId: string): Promise<Fleet> {
  return new Promise((resolve, reject) => {
    let checking = false;
    let again = false;
    let done = false;
    const check = async () => {
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      try {
        do {
          again = false;
          const fleet = await client.fleets.get.query({ fleetId });
          if (ENDED.has(fleet.status) && !done) {
            done = true;
            sub.unsubscribe();
            resolve(fleet);
            return;
          }
        } while (again);
      } catch (error) {
        sub.unsubscribe();
        reject(error);
      } finally {
        checking = false;
      }
    };
    const sub = client.fleets.changes.subscribe(undefined, {
      onStarted: () => void check(),
      onData: (change) => {
        // A run's change, this fleet's, or a resync (changes may have been missed): look again.
        if (change.kind === "run" || !("fleetId" in change) || change.fleetId === fleetId) void check();
      },
      onError: (error) => {
        sub.unsubscribe();
        reject(error);
      },
    });
  });
}

const fleetLaunch = command({
  name: "fleet launch",
  summary: "launch a best-of-N fleet; --wait returns when it ends",
  details: [
    "Give --agent PROFILE[,PROFILE...] with --prompt (agents cycled over the members), or --agent command",
    '(the default) with --command "<shell>". Each member gets LOOPY_FLEET_ID and LOOPY_MEMBER_INDEX.',
    "With --wait: exit 3 if the fleet failed or was cancelled.",
  ].join("\n"),
  options: {
    project: { type: "string", short: "p", value: "P", required: true, help: "the project (name or id)" },
    count: { type: "number", required: true, help: "how many members" },
    agent: { type: "string", value: "PROFILE[,PROFILE...]", help: "agent profiles cycled over the members" },
    prompt: { type: "string", value: '"..."', help: "the task for the agents" },
    command: { type: "string", short: "c", value: '"<shell>"', help: "the shell command (agent command)" },
    concurrency: { type: "number", value: "C", help: "members running at once" },
    "budget-usd": { type: "number", value: "X", help: "stop launching members after spending this much" },
    "budget-tokens": { type: "number", help: "stop launching members after this many tokens" },
    "wall-clock": { type: "string", value: "DUR", help: "stop the fleet after this long" },
    metric: { type: "string", value: "NAME", help: "rank members by this metric (printed by the command)" },
    direction: { type: "string", choices: ["min", "max"], help: "whether lower or higher --metric is better" },
    tag: { type: "string", value: "T", multiple: true, help: "a tag on the fleet" },
    secret: { type: "string", value: "NAME", multiple: true, help: "a stored secret for the agents' environment" },
    base: { type: "string", value: "REF", help: "branch off this ref" },
    timeout: { type: "string", value: "DUR", help: "stop each member's run after this long" },
    name: { type: "string", value: "N", help: "the fleet's name" },
    wait: { type: "boolean", help: "return when the fleet ends" },
  },
  async run({ client, opts, print }) {
    const budget =
      opts["budget-usd"] !== undefined || opts["budget-tokens"] !== undefined || opts["wall-clock"]
        ? { usd: opts["budget-usd"], tokens: opts["budget-tokens"], wallClock: opts["wall-clock"] }
        : undefined;
    const fleet = await client.fleets.launch.mutate({
      kind: "best_of_n",
      project: opts.project,
      name: opts.name,
      agents: (opts.agent ?? "command").split(",").map((a) => a.trim()),
      command: opts.command,
      prompt: opts.prompt,
      tags: opts.tag,
      count: opts.count,
      concurrency: opts.concurrency,
      budget,
      metric: opts.metric ? { name: opts.metric, direction: opts.direction ?? "min" } : undefined,
      baseRef: opts.base,
      timeout: opts.timeout,
      secrets: opts.secret,
    });
    if (!opts.wait) {
      print(
        fleet,
        () =>
          `Launched fleet ${fleet.id} (${fleet.name}): ${fleet.progress.total} members, concurrency ${fleet.concurrency}`,
      );
      return 0;
    }
    if (!opts.json)
      process.stderr.write(
        `Fleet ${fleet.id} launched with ${fleet.progress.total} members; waiting for it to finish…\n`,
      );
    const done = await waitForFleet(client, fleet.id);
    print(done, () => describeFleet(done));
    return done.status === "completed" ? 0 : 3;
  },
});

const fleetShow = command({
  name: "fleet show",
  args: ["<fleet-id>"],
  summary: "members with status, checks, diff, cost and rank",
  options: {},
  async run({ client, args, print }) {
    const fleet = await client.fleets.get.query({ fleetId: args[0] as string });
    print(fleet, () => describeFleet(fleet));
    return 0;
  },
});

const fleetList = command({
  name: "fleet list",
  summary: "fleets, newest first",
  options: {},
  async run({ client, print }) {
    const { fleets } = await client.fleets.list.query({});
    print(fleets, () =>
      fleets.length === 0
        ? "No fleets. Launch one with: loopy fleet launch --project P --command ... --count N"
        : table(
            fleets.map((f) => ({
              id: f.id,
              status: f.status,
              kind: f.kind,
              progress: `${f.progress.finished}/${f.progress.total}`,
              cost: `$${f.spent.usd.toFixed(4)}`,
              name: f.name.slice(0, 48),
            })),
            ["id", "status", "kind", "progress", "cost", "name"],
          ),
    );
    return 0;
  },
});

function fleetAction(action: "pause" | "resume" | "cancel", summary: string) {
  return command({
    name: `fleet ${action}`,
    args: ["<fleet-id>"],
    summary,
    options: {},
    async run({ client, args, print }) {
      const fleet = await client.fleets[action].mutate({ fleetId: args[0] as string });
      const note = action === "cancel" ? "; running members are being stopped" : "";
      print(fleet, () => `Fleet ${fleet.id} ${fleet.status}${note}.`);
      return 0;
    },
  });
}

const fleetApprove = command({
  name: "fleet approve",
  args: ["<fleet-id>"],
  summary: "merge the top-ranked (or chosen) member, reject the others",
  options: { run: { type: "string", value: "RUN", help: "merge this member instead of the top-ranked one" } },
  async run({ client, args, opts, print }) {
    const result = await client.fleets.approveWinner.mutate({ fleetId: args[0] as string, runId: opts.run });
    const w = result.winner;
    print(
      result,
      () =>
        `Member ${w.memberIndex} (run ${w.runId}) merged into ${w.target} as ${w.mergedSha.slice(0, 12)}; rejected ${result.rejected.length} other member(s).`,
    );
    return 0;
  },
});

export const fleetCommands = [
  fleetLaunch,
  fleetShow,
  fleetList,
  fleetAction("pause", "pause a fleet: no new members start"),
  fleetAction("resume", "resume a paused fleet"),
  fleetAction("cancel", "cancel a fleet and stop its running members"),
  fleetApprove,
];

import type { LoopyClient } from "./client.ts";
import { duration, table } from "./format.ts";

/** Flags the fleet commands read (parsed once in main.ts). */
export interface FleetFlags {
  json: boolean;
  project?: string;
  name?: string;
  agent?: string;
  command?: string;
  prompt?: string;
  count?: string;
  concurrency?: string;
  "budget-usd"?: string;
  "budget-tokens"?: string;
  "wall-clock"?: string;
  metric?: string;
  direction?: string;
  base?: string;
  timeout?: string;
  tag?: string[];
  secret?: string[];
  run?: string;
  wait: boolean;
}

export class FleetUsageError extends Error {}

type Fleet = Awaited<ReturnType<LoopyClient["fleets"]["get"]["query"]>>;
type Print = (json: unknown, human: () => string) => void;

const ENDED = new Set(["completed", "failed", "cancelled"]);

function need(value: string | undefined, what: string): string {
  if (!value) throw new FleetUsageError(`missing ${what}`);
  return value;
}

function number(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new FleetUsageError(`${what} must be a number, got "${value}"`);
  return n;
}

export function describeFleet(fleet: Fleet): string {
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
        if (change.kind === "run" || change.fleetId === fleetId) void check();
      },
      onError: (error) => {
        sub.unsubscribe();
        reject(error);
      },
    });
  });
}

export async function fleetCommand(
  client: LoopyClient,
  args: string[],
  flags: FleetFlags,
  print: Print,
): Promise<number> {
  const [action, id] = args;
  switch (action) {
    case "launch": {
      const agents = (flags.agent ?? "command").split(",").map((a) => a.trim());
      const metric = flags.metric
        ? { name: flags.metric, direction: (flags.direction ?? "min") as "min" | "max" }
        : undefined;
      if (flags.direction && !["min", "max"].includes(flags.direction))
        throw new FleetUsageError(`--direction must be min or max, got "${flags.direction}"`);
      const count = number(need(flags.count, "--count"), "--count") as number;
      const fleet = await client.fleets.launch.mutate({
        kind: "best_of_n",
        project: need(flags.project, "--project"),
        name: flags.name,
        agents,
        command: flags.command,
        prompt: flags.prompt,
        tags: flags.tag,
        count,
        concurrency: number(flags.concurrency, "--concurrency"),
        budget:
          flags["budget-usd"] || flags["budget-tokens"] || flags["wall-clock"]
            ? {
                usd: number(flags["budget-usd"], "--budget-usd"),
                tokens: number(flags["budget-tokens"], "--budget-tokens"),
                wallClock: flags["wall-clock"],
              }
            : undefined,
        metric,
        baseRef: flags.base,
        timeout: flags.timeout,
        secrets: flags.secret,
      });
      if (!flags.wait) {
        print(
          fleet,
          () =>
            `Launched fleet ${fleet.id} (${fleet.name}): ${fleet.progress.total} members, concurrency ${fleet.concurrency}`,
        );
        return 0;
      }
      if (!flags.json)
        process.stderr.write(
          `Fleet ${fleet.id} launched with ${fleet.progress.total} members; waiting for it to finish…\n`,
        );
      const done = await waitForFleet(client, fleet.id);
      print(done, () => describeFleet(done));
      return done.status === "completed" ? 0 : 3;
    }
    case "show": {
      const fleet = await client.fleets.get.query({ fleetId: need(id, "<fleet-id>") });
      print(fleet, () => describeFleet(fleet));
      return 0;
    }
    case "list": {
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
    }
    case "pause":
    case "resume":
    case "cancel": {
      const fleetId = need(id, "<fleet-id>");
      const fleet = await client.fleets[action].mutate({ fleetId });
      print(
        fleet,
        () => `Fleet ${fleet.id} ${fleet.status}${action === "cancel" ? "; running members are being stopped" : ""}.`,
      );
      return 0;
    }
    case "approve": {
      const result = await client.fleets.approveWinner.mutate({ fleetId: need(id, "<fleet-id>"), runId: flags.run });
      print(
        result,
        () =>
          `Member ${result.winner.memberIndex} (run ${result.winner.runId}) merged into ${result.winner.target} as ${result.winner.mergedSha.slice(0, 12)}; rejected ${result.rejected.length} other member(s).`,
      );
      return 0;
    }
    default:
      throw new FleetUsageError(
        `unknown command "fleet ${action ?? ""}" (launch, show, list, pause, resume, cancel, approve)`,
      );
  }
}

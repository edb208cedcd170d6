import { readFile } from "node:fs/promises";
import { formatDuration } from "@loopy/config/duration";
import { UsageError } from "../args.ts";
import type { LoopyClient } from "../client.ts";
import { command } from "../command.ts";
import { duration, metric, table, time } from "../format.ts";

type Loop = Awaited<ReturnType<LoopyClient["research"]["get"]["query"]>>;

const ENDED = new Set(["completed", "failed", "cancelled"]);

async function readJsonFile(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new Error(
      `cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} ${file} is not valid JSON: ${(error as Error).message}`);
  }
}

function loopLines(loop: Loop): string {
  return [
    `loop      ${loop.id}  ${loop.name}`,
    `status    ${loop.status}${loop.statusReason ? ` (${loop.statusReason})` : ""}`,
    `project   ${loop.project.name}, branch ${loop.branch} from ${loop.baseRef} @ ${loop.baseSha.slice(0, 12)}`,
    `command   ${loop.command}`,
    `metric    ${loop.metric} (${loop.direction === "min" ? "lower" : "higher"} is better), budget ${formatDuration(loop.budgetMs)}`,
    `proposer  ${loop.proposer}${loop.agentProfile ? ` (${loop.agentProfile.name})` : ""}`,
    `best      ${metric(loop.bestMetric)}${loop.bestCommit ? ` at ${loop.bestCommit.slice(0, 12)}` : ""}   noise floor ${metric(loop.noiseFloor)}`,
    `started   ${time(loop.startedAt)}   duration ${duration(loop.startedAt, loop.finishedAt)}`,
  ].join("\n");
}

function experimentLine(
  e: {
    index: number;
    kind: string;
    status: string;
    metric: number | null;
    description?: string;
    reason?: string | null;
  },
  metricName: string,
): string {
  const what = e.kind === "candidate" ? "" : ` ${e.kind}`;
  return `#${e.index}${what} ${e.status.padEnd(7)} ${metricName}=${metric(e.metric)}  ${e.description ?? ""}${e.reason && ["crash", "timeout", "flagged"].includes(e.status) ? `  (${e.reason})` : ""}`;
}

/** Streams a loop's finished experiments until the loop ends. */
function followLoop(client: LoopyClient, loop: Loop, print: (line: string) => void): Promise<Loop["status"]> {
  return new Promise((resolve, reject) => {
    const sub = client.research.events.subscribe(
      { loopId: loop.id, lastEventId: null },
      {
        onData: ({ data }) => {
          if (data.kind !== "event") return;
          const ev = data.event.event;
          if (ev.type === "experiment" && !["queued", "running"].includes(ev.status))
            print(experimentLine(ev, loop.metric));
          if (ev.type === "noise_floor") print(`noise floor ${metric(ev.value)} from ${ev.measurements} baseline runs`);
          if (ev.type === "loop" && ENDED.has(ev.status)) {
            sub.unsubscribe();
            resolve(ev.status);
          }
        },
        onError: (error) => {
          sub.unsubscribe();
          reject(error);
        },
      },
    );
  });
}

/** `loopy research --project P ...`: start a loop. */
const research = command({
  name: "research",
  summary: "start a research loop; --wait prints each experiment and returns when it ends",
  details: [
    "Give a proposer: --optimizer random|tpe with --space FILE (a JSON search space), or --agent PROFILE.",
    "The loop ends at --budget, --max-experiments, --wall-clock or --cost-limit (exit 3 with --wait if it did not complete).",
  ].join("\n"),
  options: {
    project: { type: "string", short: "p", value: "P", required: true, help: "the project (name or id)" },
    command: { type: "string", short: "c", value: '"<cmd>"', required: true, help: "the experiment command" },
    metric: { type: "string", value: "NAME", required: true, help: "the metric the command prints" },
    direction: { type: "string", choices: ["min", "max"], required: true, help: "whether lower or higher is better" },
    budget: { type: "string", value: "DUR", required: true, help: "the time budget of one experiment (5m)" },
    "max-experiments": { type: "number", help: "stop after this many experiments" },
    optimizer: { type: "string", choices: ["random", "tpe"], help: "propose parameters from --space" },
    space: { type: "string", value: "FILE", help: "the search space (JSON) for --optimizer" },
    agent: { type: "string", value: "PROFILE", help: "an agent profile proposes code changes" },
    program: { type: "string", value: "FILE", help: "instructions for the agent (e.g. program.md)" },
    editable: { type: "string", value: "GLOB", multiple: true, help: "files the agent may change" },
    protected: { type: "string", value: "FILE", multiple: true, help: "files no experiment may change" },
    "params-file": { type: "string", value: "F", help: "where the optimizer writes the parameters" },
    "noise-repeats": { type: "number", value: "K", help: "baseline runs that measure the noise floor" },
    confirm: { type: "number", help: "re-run a new best this many times before keeping it" },
    seed: { type: "number", value: "S", help: "the optimizer's random seed" },
    slot: { type: "string", value: "gpu0,gpu1", multiple: true, help: "slots experiments run in (one at a time each)" },
    "wall-clock": { type: "string", value: "DUR", help: "stop the loop after this long" },
    "cost-limit": { type: "number", value: "USD", help: "stop the loop after spending this much" },
    "hard-kill": { type: "number", value: "X", help: "kill an experiment at X times its budget" },
    base: { type: "string", value: "REF", help: "branch off this ref" },
    name: { type: "string", value: "N", help: "the loop's name" },
    wait: { type: "boolean", help: "print each experiment and return when the loop ends" },
  },
  async run({ client, opts, print }) {
    if (!opts.optimizer && !opts.agent)
      throw new UsageError("give a proposer: --optimizer random|tpe --space FILE, or --agent PROFILE");
    if (opts.optimizer && !opts.space) throw new UsageError("--optimizer needs --space FILE (a JSON search space)");
    const space = opts.space ? await readJsonFile(opts.space, "search space") : undefined;
    const instructions = opts.program ? await readFile(opts.program, "utf8") : undefined;
    const loop = await client.research.create.mutate({
      project: opts.project,
      name: opts.name,
      command: opts.command,
      metric: opts.metric,
      direction: opts.direction,
      budget: opts.budget,
      maxExperiments: opts["max-experiments"],
      optimizer: opts.optimizer,
      space,
      agent: opts.agent,
      instructions,
      editable: opts.editable,
      protected: opts.protected,
      paramsFile: opts["params-file"],
      seed: opts.seed,
      noiseRepeats: opts["noise-repeats"],
      confirmRuns: opts.confirm,
      slots: opts.slot
        ?.flatMap((s) => s.split(","))
        .map((s) => s.trim())
        .filter(Boolean),
      wallClock: opts["wall-clock"],
      costLimitUsd: opts["cost-limit"],
      hardKillMultiple: opts["hard-kill"],
      baseRef: opts.base,
    });
    if (!opts.wait) {
      print(
        loop,
        () => `Started research loop ${loop.id} (${loop.status}) on ${loop.project.name}, branch ${loop.branch}`,
      );
      return 0;
    }
    if (!opts.json) process.stderr.write(`Research loop ${loop.id} started; waiting for it to end…\n`);
    await followLoop(client, loop, (line) => {
      if (!opts.json) process.stdout.write(`${line}\n`);
    });
    const done = await client.research.get.query({ loopId: loop.id });
    if (opts.json) print(done, () => "");
    else
      process.stderr.write(
        `Research loop ${done.id} ${done.status}${done.statusReason ? `: ${done.statusReason}` : ""}; best ${done.metric}=${metric(done.bestMetric)}\n`,
      );
    return done.status === "completed" ? 0 : 3;
  },
});

const researchList = command({
  name: "research list",
  summary: "research loops",
  options: { project: { type: "string", short: "p", value: "P", help: "only this project's loops" } },
  async run({ client, opts, print }) {
    const loops = await client.research.list.query(opts.project ? { project: opts.project } : undefined);
    print(loops, () =>
      loops.length === 0
        ? "No research loops. Start one with: loopy research --project P --command CMD --metric NAME --direction min --budget 5m --optimizer tpe --space space.json"
        : table(
            loops.map((l) => ({
              id: l.id,
              status: l.status,
              project: l.project.name,
              proposer: l.proposer,
              experiments: `${l.counts.total} (${l.counts.keep} kept)`,
              best: metric(l.bestMetric),
              name: l.name.slice(0, 48),
            })),
            ["id", "status", "project", "proposer", "experiments", "best", "name"],
          ),
    );
    return 0;
  },
});

const researchShow = command({
  name: "research show",
  args: ["<loop-id>"],
  summary: "a research loop's details",
  options: {},
  async run({ client, args, print }) {
    const loop = await client.research.get.query({ loopId: args[0] as string });
    print(loop, () => loopLines(loop));
    return 0;
  },
});

function loopAction(action: "pause" | "resume" | "cancel", summary: string) {
  return command({
    name: `research ${action}`,
    args: ["<loop-id>"],
    summary,
    options: {},
    async run({ client, args, print }) {
      const loopId = args[0] as string;
      const loop = await client.research[action].mutate({ loopId });
      const note = action === "pause" && loop.status === "paused" ? " (the experiment in progress finishes first)" : "";
      print(loop, () => `Research loop ${loop.id} ${loop.status}${note}.`);
      return 0;
    },
  });
}

export const researchCommands = [
  research,
  researchList,
  researchShow,
  loopAction("pause", "pause a loop; the experiment in progress finishes first"),
  loopAction("resume", "resume a paused loop"),
  loopAction("cancel", "cancel a loop"),
];

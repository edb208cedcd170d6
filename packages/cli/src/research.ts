import { readFile } from "node:fs/promises";
import type { LoopyClient } from "./client.ts";
import { formatDuration } from "@loopy/config/duration";
import { duration, table, time } from "./format.ts";

/** Flags the research commands read (parsed once in main.ts). */
export interface ResearchFlags {
  json: boolean;
  project?: string;
  name?: string;
  command?: string;
  metric?: string;
  direction?: string;
  budget?: string;
  "max-experiments"?: string;
  optimizer?: string;
  space?: string;
  agent?: string;
  program?: string;
  editable?: string[];
  protected?: string[];
  "params-file"?: string;
  seed?: string;
  "noise-repeats"?: string;
  confirm?: string;
  slot?: string[];
  "wall-clock"?: string;
  "cost-limit"?: string;
  "hard-kill"?: string;
  base?: string;
  tsv: boolean;
  wait: boolean;
}

export class ResearchUsageError extends Error {}

type Loop = Awaited<ReturnType<LoopyClient["research"]["get"]["query"]>>;
type Experiment = Awaited<ReturnType<LoopyClient["research"]["experiments"]["query"]>>[number];

const ENDED = new Set(["completed", "failed", "cancelled"]);

function need(value: string | undefined, what: string): string {
  if (!value) throw new ResearchUsageError(`missing ${what}`);
  return value;
}

function number(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new ResearchUsageError(`${what} must be a number, got "${value}"`);
  return n;
}

function metric(value: number | null | undefined): string {
  if (value === null || value === undefined) return "-";
  return Math.abs(value) >= 0.01 ? value.toFixed(6) : value.toPrecision(4);
}

function signed(value: number | null | undefined): string {
  if (value === null || value === undefined) return "-";
  return `${value >= 0 ? "+" : ""}${metric(value)}`;
}

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
function follow(client: LoopyClient, loop: Loop, print: (line: string) => void): Promise<Loop["status"]> {
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

/** `loopy research ...`: start a loop (or list, show, cancel). Returns the exit code. */
export async function researchCommand(
  client: LoopyClient,
  args: string[],
  flags: ResearchFlags,
  print: (json: unknown, human: () => string) => void,
): Promise<number> {
  const [action, id] = args;
  if (action === "list") {
    const loops = await client.research.list.query(flags.project ? { project: flags.project } : undefined);
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
  }
  if (action === "show") {
    const loop = await client.research.get.query({ loopId: need(id, "<loop-id>") });
    print(loop, () => loopLines(loop));
    return 0;
  }
  if (action === "cancel") {
    const loop = await client.research.cancel.mutate({ loopId: need(id, "<loop-id>") });
    print(loop, () => `Research loop ${loop.id} ${loop.status}.`);
    return 0;
  }
  if (action === "pause" || action === "resume") {
    const loopId = need(id, "<loop-id>");
    const loop =
      action === "pause"
        ? await client.research.pause.mutate({ loopId })
        : await client.research.resume.mutate({ loopId });
    print(
      loop,
      () =>
        `Research loop ${loop.id} ${loop.status}${action === "pause" && loop.status === "paused" ? " (the experiment in progress finishes first)" : ""}.`,
    );
    return 0;
  }
  if (action !== undefined)
    throw new ResearchUsageError(
      `unknown command "research ${action}" (list, show, pause, resume, cancel, or flags to start a loop)`,
    );

  const direction = need(flags.direction, "--direction (min or max)");
  if (direction !== "min" && direction !== "max")
    throw new ResearchUsageError(`--direction must be min or max, got "${direction}"`);
  if (!flags.optimizer && !flags.agent)
    throw new ResearchUsageError("give a proposer: --optimizer random|tpe --space FILE, or --agent PROFILE");
  if (flags.optimizer && flags.optimizer !== "random" && flags.optimizer !== "tpe")
    throw new ResearchUsageError(`--optimizer must be random or tpe, got "${flags.optimizer}"`);
  if (flags.optimizer && !flags.space)
    throw new ResearchUsageError("--optimizer needs --space FILE (a JSON search space)");
  const space = flags.space ? await readJsonFile(flags.space, "search space") : undefined;
  const instructions = flags.program ? await readFile(flags.program, "utf8") : undefined;
  const loop = await client.research.create.mutate({
    project: need(flags.project, "--project"),
    name: flags.name,
    command: need(flags.command, "--command"),
    metric: need(flags.metric, "--metric"),
    direction,
    budget: need(flags.budget, "--budget"),
    maxExperiments: number(flags["max-experiments"], "--max-experiments"),
    optimizer: flags.optimizer as "random" | "tpe" | undefined,
    space,
    agent: flags.agent,
    instructions,
    editable: flags.editable,
    protected: flags.protected,
    paramsFile: flags["params-file"],
    seed: number(flags.seed, "--seed"),
    noiseRepeats: number(flags["noise-repeats"], "--noise-repeats"),
    confirmRuns: number(flags.confirm, "--confirm"),
    slots: flags.slot
      ?.flatMap((s) => s.split(","))
      .map((s) => s.trim())
      .filter(Boolean),
    wallClock: flags["wall-clock"],
    costLimitUsd: number(flags["cost-limit"], "--cost-limit"),
    hardKillMultiple: number(flags["hard-kill"], "--hard-kill"),
    baseRef: flags.base,
  });
  if (!flags.wait) {
    print(
      loop,
      () => `Started research loop ${loop.id} (${loop.status}) on ${loop.project.name}, branch ${loop.branch}`,
    );
    return 0;
  }
  if (!flags.json) process.stderr.write(`Research loop ${loop.id} started; waiting for it to end…\n`);
  await follow(client, loop, (line) => {
    if (!flags.json) process.stdout.write(`${line}\n`);
  });
  const done = await client.research.get.query({ loopId: loop.id });
  if (flags.json) print(done, () => "");
  else
    process.stderr.write(
      `Research loop ${done.id} ${done.status}${done.statusReason ? `: ${done.statusReason}` : ""}; best ${done.metric}=${metric(done.bestMetric)}\n`,
    );
  return done.status === "completed" ? 0 : 3;
}

/** `loopy experiments <loop-id>`: the loop's experiments as a table. */
export async function experimentsCommand(
  client: LoopyClient,
  args: string[],
  print: (json: unknown, human: () => string) => void,
): Promise<number> {
  const loopId = need(args[0], "<loop-id>");
  const [loop, experiments] = await Promise.all([
    client.research.get.query({ loopId }),
    client.research.experiments.query({ loopId }),
  ]);
  print(experiments, () =>
    experiments.length === 0
      ? `Loop ${loopId} has no experiments yet (${loop.status}).`
      : table(
          experiments.map((e: Experiment) => ({
            "#": String(e.index),
            kind: e.kind,
            status: e.status,
            [loop.metric]: metric(e.metricValue),
            "vs best": signed(e.deltaVsBest),
            time: e.durationMs === null ? "-" : formatDuration(e.durationMs),
            slot: e.slot ?? "-",
            commit: e.commitSha?.slice(0, 7) ?? "-",
            description: (e.description || "").slice(0, 60),
          })),
          ["#", "kind", "status", loop.metric, "vs best", "time", "slot", "commit", "description"],
        ),
  );
  return 0;
}

/** `loopy export <loop-id> --tsv`: the loop as autoresearch's results.tsv on stdout. */
export async function exportCommand(
  client: LoopyClient,
  args: string[],
  flags: ResearchFlags,
  print: (json: unknown, human: () => string) => void,
): Promise<number> {
  const loopId = need(args[0], "<loop-id>");
  if (!flags.tsv && !flags.json) throw new ResearchUsageError("say the format: --tsv (autoresearch's results.tsv)");
  const result = await client.research.exportTsv.query({ loopId });
  if (flags.json) print(result, () => "");
  else process.stdout.write(result.tsv);
  return 0;
}

/** `loopy import <file.tsv> --project P`: a results.tsv made outside Loopy, as a completed loop. */
export async function importCommand(
  client: LoopyClient,
  args: string[],
  flags: ResearchFlags,
  print: (json: unknown, human: () => string) => void,
): Promise<number> {
  const file = need(args[0], "<file.tsv>");
  let tsv: string;
  try {
    tsv = await readFile(file, "utf8");
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const direction = flags.direction;
  if (direction !== undefined && direction !== "min" && direction !== "max")
    throw new ResearchUsageError(`--direction must be min or max, got "${direction}"`);
  const loop = await client.research.importTsv.mutate({
    project: need(flags.project, "--project"),
    tsv,
    name: flags.name,
    direction,
  });
  print(loop, () => `Imported ${file} as research loop ${loop.id} (${loop.metric}, best ${metric(loop.bestMetric)})`);
  return 0;
}

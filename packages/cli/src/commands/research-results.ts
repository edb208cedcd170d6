import { readFile } from "node:fs/promises";
import { formatDuration } from "@loopy/config/duration";
import { UsageError } from "../args.ts";
import type { LoopyClient } from "../client.ts";
import { command } from "../command.ts";
import { metric, signed, table } from "../format.ts";

type Experiment = Awaited<ReturnType<LoopyClient["research"]["experiments"]["query"]>>[number];

/** `loopy experiments <loop-id>`: the loop's experiments as a table. */
const experiments = command({
  name: "experiments",
  args: ["<loop-id>"],
  summary: "a loop's experiments: status, metric, delta against the best",
  options: {},
  async run({ client, args, print }) {
    const loopId = args[0] as string;
    const [loop, list] = await Promise.all([
      client.research.get.query({ loopId }),
      client.research.experiments.query({ loopId }),
    ]);
    print(list, () =>
      list.length === 0
        ? `Loop ${loopId} has no experiments yet (${loop.status}).`
        : table(
            list.map((e: Experiment) => ({
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
  },
});

/** `loopy export <loop-id> --tsv`: the loop as autoresearch's results.tsv on stdout. */
const exportTsv = command({
  name: "export",
  args: ["<loop-id>"],
  summary: "the loop as autoresearch's results.tsv (--tsv)",
  options: { tsv: { type: "boolean", help: "the format: autoresearch's results.tsv" } },
  async run({ client, args, opts, print }) {
    if (!opts.tsv && !opts.json) throw new UsageError("say the format: --tsv (autoresearch's results.tsv)");
    const result = await client.research.exportTsv.query({ loopId: args[0] as string });
    if (opts.json) print(result, () => "");
    else process.stdout.write(result.tsv);
    return 0;
  },
});

/** `loopy import <file.tsv> --project P`: a results.tsv made outside Loopy, as a completed loop. */
const importTsv = command({
  name: "import",
  args: ["<file.tsv>"],
  summary: "a results.tsv made elsewhere, as a completed loop to chart",
  options: {
    project: { type: "string", short: "p", value: "P", required: true, help: "the project it belongs to" },
    direction: { type: "string", choices: ["min", "max"], help: "whether lower or higher is better" },
    name: { type: "string", value: "N", help: "the loop's name" },
  },
  async run({ client, args, opts, print }) {
    const file = args[0] as string;
    let tsv: string;
    try {
      tsv = await readFile(file, "utf8");
    } catch (error) {
      throw new Error(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const loop = await client.research.importTsv.mutate({
      project: opts.project,
      tsv,
      name: opts.name,
      direction: opts.direction,
    });
    print(loop, () => `Imported ${file} as research loop ${loop.id} (${loop.metric}, best ${metric(loop.bestMetric)})`);
    return 0;
  },
});

export const resultCommands = [experiments, exportTsv, importTsv];

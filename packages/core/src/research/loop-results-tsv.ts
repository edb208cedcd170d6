import type { Db } from "@loopy/db/client";
import {
  formatResultsTsv,
  parseResultsTsv,
  type ResultRow,
  type ResultsFile,
  runningBest,
} from "@loopy/research-math/results-tsv";
import { badInput, notFound } from "../shared/errors.ts";
import { resolveCommit } from "../shared/git.ts";
import { newId } from "../shared/ids.ts";
import { findProject } from "../projects/projects.ts";
import { appendResearchEvents } from "./events.ts";
import { experimentSummarySelect } from "./experiment-queries.ts";
import { getLoop, type LoopDetail } from "./loop-queries.ts";
import type { ResearchDeps } from "./ports.ts";

/** autoresearch's results.tsv: a loop exported as one, or one imported as a completed loop. */

const EXPORT_STATUS: Record<string, ResultRow["status"] | null> = {
  keep: "keep",
  discard: "discard",
  flagged: "discard",
  crash: "crash",
  timeout: "crash",
  queued: null,
  running: null,
};

/** A loop as autoresearch's results.tsv (baseline and candidates; noise and confirm re-runs are Loopy's own). */
export async function exportResultsTsv(db: Db, loopId: string): Promise<{ filename: string; tsv: string }> {
  const loop = await db.researchLoop.findUnique({
    where: { id: loopId },
    select: { id: true, metric: true, proposer: true },
  });
  if (!loop) throw notFound(`No research loop "${loopId}"`);
  const rows = await db.experiment.findMany({
    where: { loopId, kind: { in: ["baseline", "candidate"] } },
    orderBy: { index: "asc" },
    select: experimentSummarySelect,
  });
  const out: ResultRow[] = [];
  for (const r of rows) {
    const status = EXPORT_STATUS[r.status];
    if (!status) continue;
    const note =
      r.status === "flagged" ? " (flagged: within the noise floor)" : r.status === "timeout" ? " (timeout)" : "";
    const commit = loop.proposer === "import" ? (r.commitSha ?? "") : (r.commitSha?.slice(0, 7) ?? "-");
    out.push({
      commit,
      value: status === "crash" ? null : r.metricValue,
      memoryGb: status === "crash" ? null : r.memoryGb,
      status,
      description: `${r.description || (r.kind === "baseline" ? "baseline" : "")}${note}`,
    });
  }
  return { filename: `results-${loopId}.tsv`, tsv: formatResultsTsv({ metric: loop.metric, rows: out }) };
}

/**
 * Imports an autoresearch results.tsv as a completed loop (nothing runs), so a
 * session made outside Loopy shows in its charts. The first row is the baseline.
 */
export async function importResultsTsv(
  deps: ResearchDeps,
  input: { project: string; tsv: string; name?: string; direction?: "min" | "max" },
): Promise<LoopDetail> {
  const { db } = deps;
  const project = await findProject(db, input.project);
  let file: ResultsFile;
  try {
    file = parseResultsTsv(input.tsv);
  } catch (error) {
    throw badInput((error as Error).message);
  }
  if (file.rows.length === 0) throw badInput("The results.tsv has a header but no rows");
  const direction = input.direction ?? "min";
  if (direction !== "min" && direction !== "max")
    throw badInput(`Direction must be "min" or "max", got "${String(direction)}"`);
  const best = runningBest(file.rows, direction);
  const finalBest = best.at(-1) ?? null;
  const bestIndex = finalBest === null ? -1 : file.rows.findIndex((r) => r.status === "keep" && r.value === finalBest);
  const id = newId();
  const ids = file.rows.map(() => newId());
  const baseSha = (await resolveCommit(project.path, project.defaultBranch)) ?? "";
  await db.$transaction(async (tx) => {
    await tx.researchLoop.create({
      data: {
        id,
        projectId: project.id,
        name: (input.name?.trim() || `imported results.tsv (${file.rows.length} experiments)`).slice(0, 200),
        command: "(imported from results.tsv)",
        metric: file.metric,
        direction,
        budgetMs: 0,
        proposer: "import",
        noiseRepeats: 0,
        status: "completed",
        statusReason: `Imported ${file.rows.length} rows from a results.tsv`,
        baseRef: project.defaultBranch,
        baseSha,
        branch: `loopy/research-${id}`,
        bestExperimentId: bestIndex >= 0 ? ids[bestIndex] : null,
        bestCommit: bestIndex >= 0 ? (file.rows[bestIndex]?.commit ?? null) : null,
        bestMetric: finalBest,
        finishedAt: new Date(),
      },
    });
    await tx.experiment.createMany({
      data: file.rows.map((r, i) => ({
        id: ids[i] as string,
        loopId: id,
        index: i,
        kind: i === 0 ? "baseline" : "candidate",
        status: r.status,
        description: r.description,
        commitSha: r.commit,
        metricValue: r.value,
        memoryGb: r.memoryGb,
      })),
    });
    await appendResearchEvents(tx, null, id, [{ type: "loop", status: "completed", reason: "imported" }]);
  });
  await deps.researchNotifier.loopChanged(id, "completed");
  return getLoop(db, id);
}

import path from "node:path";
import { profileSecretNames } from "@loopy/agents/adapter";
import { findAgent } from "@loopy/agents/registry";
import type { Db } from "@loopy/db/client";
import { describeParams } from "@loopy/research-math/plan";
import type { Params } from "@loopy/research-math/space";
import { workspaceSandbox } from "../projects/confinement.ts";
import { newId } from "../shared/ids.ts";
import { profileConfigSchema } from "../projects/profiles.ts";
import { secretsForAgent } from "../secrets/inject.ts";
import { Redactor } from "../secrets/redact.ts";
import {
  type Ctx,
  type ExperimentRow,
  experimentSelect,
  type LoopRow,
  loadExperiments,
  record,
} from "./engine-context.ts";
import {
  agentPrompt,
  type BoardRow,
  type HistoryRow,
  proposeParams,
  readParamsFile,
  runAgentProposer,
} from "./proposers.ts";

/**
 * Proposals: an optimizer's params are decided when the experiment row is
 * created (stored on it, so a re-run repeats them exactly); an agent's change
 * is made in the worktree when the experiment runs.
 */

/** Creates the next experiment row (queued); an optimizer's proposal is stored with it, so a re-run repeats it exactly. */
export async function createExperiment(
  ctx: Ctx,
  loop: LoopRow,
  experiments: ExperimentRow[],
  kind: "baseline" | "noise" | "candidate",
  seed: number,
): Promise<ExperimentRow> {
  const optimizer = loop.proposer === "random" || loop.proposer === "tpe";
  let params: Params | Record<string, unknown> | null = null;
  let description = "";
  if (kind === "baseline") {
    description = "baseline";
    if (optimizer) params = await readParamsFile(ctx.worktree, loop.paramsFile);
  } else if (kind === "noise") {
    description = `baseline again, seed ${seed} (noise floor)`;
    params = (experiments.find((e) => e.kind === "baseline")?.params as Record<string, unknown> | null) ?? null;
  } else if (optimizer) {
    const proposal = proposeParams(loop, history(experiments));
    params = proposal;
    description = describeParams(proposal);
  }
  const index = experiments.reduce((n, e) => Math.max(n, e.index + 1), 0);
  const row = await ctx.deps.db.experiment.create({
    data: {
      id: newId(),
      loopId: ctx.loopId,
      index,
      kind,
      seed,
      params: (params ?? undefined) as object | undefined,
      description,
    },
    select: experimentSelect,
  });
  await record(ctx, [
    { type: "experiment", experimentId: row.id, index, kind, status: "queued", metric: null, description },
  ]);
  return row;
}

function history(experiments: ExperimentRow[]): HistoryRow[] {
  return experiments.map((e) => ({
    index: e.index,
    kind: e.kind,
    status: e.status,
    metricValue: e.metricValue,
    params: e.params,
    description: e.description,
    reason: e.reason,
  }));
}

/** The latest kept changes of the project's other loops, for an agent proposer to read. */
async function resultsBoard(db: Db, loop: LoopRow): Promise<BoardRow[]> {
  const rows = await db.experiment.findMany({
    where: { status: "keep", kind: "candidate", loopId: { not: loop.id }, loop: { projectId: loop.projectId } },
    orderBy: { endedAt: "desc" },
    take: 20,
    select: { description: true, metricValue: true, loop: { select: { name: true, metric: true } } },
  });
  return rows
    .reverse()
    .map((r) => ({ loopName: r.loop.name, metric: r.loop.metric, value: r.metricValue, description: r.description }));
}

export interface AgentChange {
  /** The agent's description of its change (redacted); the row's own when it made none. */
  description: string;
  /** Set when the change must not run (no usable profile, secrets missing, the agent failed). */
  refused?: string;
  /** The loop stopped during the agent's turn. */
  cancelled?: boolean;
}

/**
 * One agent turn in the worktree: the loop's instructions, a compact history
 * and the project's results board as the prompt, the profile's secrets in its
 * environment (redacted from what it reports), its cost added to the
 * experiment and the loop under the claim.
 */
export async function proposeWithAgent(
  ctx: Ctx,
  loop: LoopRow,
  experiment: ExperimentRow,
  token: string,
): Promise<AgentChange> {
  const { db } = ctx.deps;
  const description = experiment.description;
  const profileRow = loop.agentProfile;
  const adapter = profileRow ? findAgent(profileRow.adapter) : undefined;
  if (!profileRow || !adapter)
    return { description, refused: "the loop's agent profile is gone or its adapter is unknown to this worker" };
  const profile = profileConfigSchema.parse(profileRow.config ?? {});
  const secrets = await secretsForAgent(
    { db, masterKey: { value: ctx.deps.masterKey, loopyHome: ctx.deps.loopyHome }, workerEnv: ctx.deps.secrets },
    { profile: profileSecretNames(profile), task: [] },
  ).catch((error: Error) => error); // handled: a missing secret refuses the experiment with its message
  if (secrets instanceof Error) return { description, refused: secrets.message };
  const redactor = new Redactor(secrets);
  const stateDir = path.join(ctx.deps.loopyHome, "agent-state", `research-${loop.id}`);
  const prompt = agentPrompt(
    {
      instructions: loop.instructions,
      metric: loop.metric,
      direction: loop.direction,
      command: loop.command,
      budgetMs: loop.budgetMs,
      editableGlobs: (loop.editableGlobs as string[]) ?? [],
      protectedFiles: Object.keys((loop.protectedFiles as Record<string, string>) ?? {}),
      noiseFloor: loop.noiseFloor,
      bestMetric: loop.bestMetric,
    },
    history(await loadExperiments(db, loop.id)),
    await resultsBoard(db, loop),
  );
  const proposal = await runAgentProposer({
    adapter,
    profile,
    worktree: ctx.worktree,
    prompt,
    env: { ...secrets, LOOPY_LOOP_ID: loop.id, LOOPY_EXPERIMENT_ID: experiment.id },
    timeoutMs: ctx.deps.agentTimeoutMs ?? 10 * 60_000,
    signal: ctx.signal,
    stateDir,
    binDirs: ctx.deps.agentBinDirs,
    sandbox: await workspaceSandbox(ctx.deps, { repo: ctx.repo, writable: [stateDir], allowHosts: ctx.egressHosts }),
  });
  if (proposal.cancelled) return { description, cancelled: true };
  proposal.description = redactor.text(proposal.description);
  proposal.reason = redactor.text(proposal.reason) ?? undefined;
  const cost = proposal.usage?.costUsd ?? 0;
  if (cost > 0) {
    await db.experiment.updateMany({
      where: { id: experiment.id, claimToken: token, status: "running" },
      data: { costUsd: { increment: cost } },
    });
    await db.researchLoop.update({ where: { id: loop.id }, data: { costUsd: { increment: cost } } });
  }
  return {
    description: proposal.description,
    ...(proposal.ok ? {} : { refused: `the agent failed: ${proposal.reason ?? "no reason given"}` }),
  };
}

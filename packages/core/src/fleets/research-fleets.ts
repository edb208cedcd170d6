import type { Db } from "@loopy/db/client";
import { badInput } from "../shared/errors.ts";
import { newId } from "../shared/ids.ts";
import {
  cancelResearchLoop,
  prepareResearchLoop,
  writeResearchLoop,
  type CreateResearchLoopInput,
  type PreparedLoop,
} from "../research/loops.ts";
import type { ResearchLaunchDeps } from "../research/ports.ts";
import type { RunNotifier } from "../shared/ports.ts";
import { budgetSpent } from "./teardown.ts";

/**
 * Research fleets: N research loops on one project, with different proposers
 * or seeds, under one concurrency limit and one budget. Members wait in
 * Postgres (queued, not dispatched) and are queued as others end; the same
 * sweep that keeps loops alive brings the fleet up to date.
 */

export interface ResearchFleetInput {
  project: string;
  name?: string;
  count: number;
  concurrency: number;
  budgetUsd: number | null;
  budgetMs: number | null;
  /** The loop every member runs; `seed` is the first member's (member i gets seed + i). */
  loop: Omit<CreateResearchLoopInput, "project">;
  /** Proposers cycled over the members, e.g. [{ optimizer: "tpe" }, { optimizer: "random" }, { agent: "sonnet" }]. */
  proposers?: Array<{ optimizer?: "random" | "tpe"; agent?: string }>;
}

export interface ResearchFleetDeps extends ResearchLaunchDeps {
  notifier: Pick<RunNotifier, "fleetChanged">;
}

const LOCK = 727_276;

export async function launchResearchFleet(deps: ResearchFleetDeps, input: ResearchFleetInput): Promise<string> {
  if (!Number.isInteger(input.count) || input.count < 1 || input.count > 100)
    throw badInput(`A research fleet has 1 to 100 loops, got ${input.count}`);
  const proposers = input.proposers?.length
    ? input.proposers
    : [{ optimizer: input.loop.optimizer, agent: input.loop.agent }];
  const prepared: PreparedLoop[] = [];
  // One validation per distinct proposer (git and the profile are the same for every seed).
  const byProposer = new Map<string, PreparedLoop>();
  for (let i = 0; i < input.count; i++) {
    const p = proposers[i % proposers.length]!;
    const key = `${p.optimizer ?? ""}|${p.agent ?? ""}`;
    let base = byProposer.get(key);
    if (!base) {
      try {
        base = await prepareResearchLoop(deps, {
          ...input.loop,
          project: input.project,
          optimizer: p.agent ? undefined : p.optimizer,
          agent: p.agent,
        });
      } catch (error) {
        if (error instanceof Error && "code" in error)
          error.message = `Member ${i} (${p.agent ?? p.optimizer ?? "?"}): ${error.message}`;
        throw error;
      }
      byProposer.set(key, base);
    }
    const seed = (input.loop.seed ?? 1) + i;
    prepared.push({ ...base, seed, name: `${base.name} · seed ${seed}`.slice(0, 200) });
  }
  const fleetId = newId();
  const name = (input.name?.trim() || `${input.count} research loops: ${[...byProposer.values()][0]!.name}`).slice(
    0,
    200,
  );
  const ids = prepared.map(() => newId());
  await deps.db.$transaction(
    async (tx) => {
      await tx.fleet.create({
        data: {
          id: fleetId,
          name,
          kind: "research",
          concurrency: input.concurrency,
          budgetUsd: input.budgetUsd,
          budgetMs: input.budgetMs,
        },
      });
      for (const [i, loop] of prepared.entries())
        await writeResearchLoop(tx, loop, ids[i]!, { fleetId, memberIndex: i });
    },
    { timeout: 60_000 },
  );
  await deps.notifier.fleetChanged?.(fleetId, "running");
  await dispatchResearchFleet(deps, fleetId);
  return fleetId;
}

/** Queues as many waiting loops of the fleet as its concurrency allows, in member order. */
export async function dispatchResearchFleet(
  deps: { db: Db; researchScheduler: { enqueue(loopId: string): Promise<void> } },
  fleetId: string,
): Promise<string[]> {
  const picked = await deps.db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${LOCK}::bigint)`;
    const [fleet] = await tx.$queryRaw<
      Array<{ status: string; concurrency: number }>
    >`SELECT status::text AS status, concurrency FROM fleets WHERE id = ${fleetId} FOR UPDATE`;
    if (fleet?.status !== "running") return [];
    const active = await tx.researchLoop.count({
      where: {
        fleetId,
        OR: [{ status: { in: ["running", "paused"] } }, { status: "queued", dispatchedAt: { not: null } }],
      },
    });
    const slots = fleet.concurrency - active;
    if (slots <= 0) return [];
    const next = await tx.researchLoop.findMany({
      where: { fleetId, status: "queued", dispatchedAt: null },
      orderBy: { memberIndex: "asc" },
      take: slots,
      select: { id: true },
    });
    await tx.researchLoop.updateMany({
      where: { id: { in: next.map((l) => l.id) } },
      data: { dispatchedAt: new Date() },
    });
    return next.map((l) => l.id);
  });
  for (const id of picked) await deps.researchScheduler.enqueue(id);
  return picked;
}

/**
 * Brings a research fleet up to date: its spend (the loops' agent cost), its
 * budget (spent → the fleet fails and its loops are cancelled), completion
 * (every loop ended), and the next loops to start.
 */
export async function researchFleetProgress(deps: ResearchFleetDeps, fleetId: string): Promise<void> {
  const sums = await deps.db.researchLoop.aggregate({ where: { fleetId }, _sum: { costUsd: true } });
  await deps.db.fleet.updateMany({ where: { id: fleetId }, data: { spentUsd: sums._sum.costUsd ?? 0 } });
  const fleet = await deps.db.fleet.findUnique({ where: { id: fleetId } });
  if (!fleet || !["running", "paused"].includes(fleet.status)) return;
  const spent = budgetSpent(fleet);
  if (spent) {
    await stopResearchFleet(deps, fleetId, "failed", `fleet budget spent: ${spent}`);
    return;
  }
  const open = await deps.db.researchLoop.count({
    where: { fleetId, status: { notIn: ["completed", "failed", "cancelled"] } },
  });
  if (open === 0) {
    const { count } = await deps.db.fleet.updateMany({
      where: { id: fleetId, status: { in: ["running", "paused"] } },
      data: { status: "completed", finishedAt: new Date() },
    });
    if (count) await deps.notifier.fleetChanged?.(fleetId, "completed");
    return;
  }
  await dispatchResearchFleet(deps, fleetId);
}

/** Ends the fleet with a reason and cancels every loop that has not ended. */
export async function stopResearchFleet(
  deps: ResearchFleetDeps,
  fleetId: string,
  to: "failed" | "cancelled",
  reason: string,
): Promise<boolean> {
  const { count } = await deps.db.fleet.updateMany({
    where: {
      id: fleetId,
      status: { in: to === "cancelled" ? ["running", "paused", "completed", "failed"] : ["running", "paused"] },
    },
    data: { status: to, statusReason: reason, finishedAt: new Date() },
  });
  if (count === 0) return false;
  await deps.notifier.fleetChanged?.(fleetId, to);
  const loops = await deps.db.researchLoop.findMany({
    where: { fleetId, status: { notIn: ["completed", "failed", "cancelled"] } },
    select: { id: true },
  });
  for (const loop of loops)
    await cancelResearchLoop(deps, loop.id).catch((error: unknown) => {
      if (!(error instanceof Error && /already ended/.test(error.message))) throw error;
    });
  return true;
}

/** Every open research fleet, brought up to date (the research workers' sweep). */
export async function sweepResearchFleets(deps: ResearchFleetDeps): Promise<void> {
  const open = await deps.db.fleet.findMany({
    where: { kind: "research", status: { in: ["running", "paused"] } },
    orderBy: { createdAt: "asc" },
    select: { id: true },
  });
  for (const { id } of open) await researchFleetProgress(deps, id);
}

/** The loops of a research fleet with their best metric, best first. */
export async function researchFleetMembers(db: Db, fleetId: string) {
  const loops = await db.researchLoop.findMany({
    where: { fleetId },
    orderBy: { memberIndex: "asc" },
    select: {
      id: true,
      name: true,
      status: true,
      statusReason: true,
      proposer: true,
      seed: true,
      memberIndex: true,
      metric: true,
      direction: true,
      bestMetric: true,
      costUsd: true,
      startedAt: true,
      finishedAt: true,
      _count: { select: { experiments: true } },
    },
  });
  const better = (a: number, b: number, dir: string) => (dir === "max" ? b - a : a - b);
  const ranked = loops
    .filter((l) => l.bestMetric !== null)
    .sort((a, b) => better(a.bestMetric!, b.bestMetric!, a.direction));
  const rank = new Map(ranked.map((l, i) => [l.id, i + 1]));
  return loops.map(({ _count, ...l }) => ({ ...l, experiments: _count.experiments, rank: rank.get(l.id) ?? null }));
}

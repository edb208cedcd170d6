import type { Redis } from "ioredis";
import type { Db } from "@loopy/db/client";
import type { FleetChange, RunChange, Subscriptions } from "./event-bus.ts";

/** Run states and fleet ends worth telling someone about. */
const RUN_EVENTS: Record<string, string> = { awaiting_review: "awaits review", needs_attention: "needs attention" };
const FLEET_EVENTS: Record<string, string> = { completed: "finished", failed: "failed", cancelled: "was cancelled" };

export interface WebhookPayload {
  /** run.awaiting_review, run.needs_attention, fleet.completed, fleet.failed, fleet.cancelled */
  event: string;
  /** One line for chat tools (Slack and Mattermost incoming webhooks show `text`). */
  text: string;
  url: string;
  at: string;
  run?: {
    id: string;
    title: string;
    project: string;
    status: string;
    reason: string | null;
    costUsd: number;
    fleetId: string | null;
  };
  fleet?: { id: string; name: string; status: string; reason: string | null; members: number };
}

export interface WebhookOptions {
  url: string;
  db: Db;
  redis: Redis;
  subscriptions: Subscriptions;
  prefix: string;
  /** Where people open Loopy (LOOPY_URL), for the links in the payload. */
  publicUrl: string;
  log?: (message: string) => void;
  /** Waits between attempts; three attempts in all by default. */
  retryDelaysMs?: number[];
  timeoutMs?: number;
}

/**
 * POSTs a JSON payload to LOOPY_WEBHOOK_URL when a run waits for review or
 * needs attention, or a fleet ends. Every worker listens; the first to claim
 * a change (Redis SET NX, for a minute) sends it, so several workers send
 * one notification, not one each. Failures are retried, then logged.
 */
export async function startWebhookNotifier(options: WebhookOptions): Promise<() => Promise<void>> {
  const log = options.log ?? console.log;
  const delays = options.retryDelaysMs ?? [1_000, 5_000];
  const pending = new Set<Promise<void>>();

  const claim = async (key: string) =>
    (await options.redis.set(`${options.prefix}:webhook:${key}`, "1", "EX", 60, "NX")) === "OK";

  async function send(payload: WebhookPayload) {
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await fetch(options.url, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": "loopy-webhook" },
          body: JSON.stringify(payload),
          signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
        });
        if (response.ok) return;
        throw new Error(`HTTP ${response.status}`);
      } catch (error) {
        const delay = delays[attempt];
        if (delay === undefined) {
          log(`webhook: giving up on ${payload.event} after ${attempt + 1} attempt(s): ${(error as Error).message}`);
          return;
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  const track = (work: Promise<void>) => {
    const p = work
      .catch((error: unknown) => log(`webhook: ${(error as Error).message}`))
      .finally(() => pending.delete(p));
    pending.add(p);
  };

  async function onRun(change: RunChange) {
    const what = RUN_EVENTS[change.status];
    if (!what || !(await claim(`run:${change.runId}:${change.status}`))) return;
    const run = await options.db.run.findUnique({
      where: { id: change.runId },
      select: {
        id: true,
        status: true,
        statusReason: true,
        costUsd: true,
        fleetId: true,
        project: { select: { name: true } },
        task: { select: { title: true } },
      },
    });
    if (!run) return;
    const url = `${options.publicUrl}/runs/${run.id}`;
    await send({
      event: `run.${change.status}`,
      text: `Run "${run.task.title}" (${run.project.name}) ${what}${run.statusReason ? `: ${run.statusReason}` : ""} ${url}`,
      url,
      at: new Date().toISOString(),
      run: {
        id: run.id,
        title: run.task.title,
        project: run.project.name,
        status: change.status,
        reason: run.statusReason,
        costUsd: run.costUsd,
        fleetId: run.fleetId,
      },
    });
  }

  async function onFleet(change: FleetChange) {
    const what = FLEET_EVENTS[change.status];
    if (!what || !(await claim(`fleet:${change.fleetId}:${change.status}`))) return;
    const fleet = await options.db.fleet.findUnique({
      where: { id: change.fleetId },
      select: { id: true, name: true, status: true, statusReason: true, _count: { select: { runs: true } } },
    });
    if (!fleet) return;
    const url = `${options.publicUrl}/fleets/${fleet.id}`;
    await send({
      event: `fleet.${change.status}`,
      text: `Fleet "${fleet.name}" ${what}${fleet.statusReason ? `: ${fleet.statusReason}` : ""} ${url}`,
      url,
      at: new Date().toISOString(),
      fleet: {
        id: fleet.id,
        name: fleet.name,
        status: change.status,
        reason: fleet.statusReason,
        members: fleet._count.runs,
      },
    });
  }

  const leaveRuns = await options.subscriptions.listenRunChanges(options.prefix, (c) => track(onRun(c)));
  const leaveFleets = await options.subscriptions.listenFleetChanges(options.prefix, (c) => track(onFleet(c)));
  return async () => {
    await leaveRuns();
    await leaveFleets();
    await Promise.allSettled([...pending]);
  };
}

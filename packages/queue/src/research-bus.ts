import type { Redis } from "ioredis";
import type { ResearchNotifier } from "@loopy/core/research";
import type { StoredPoint, StoredResearchEvent } from "@loopy/core/research";
import type { Subscriptions } from "./event-bus.ts";

/**
 * Live notifications of research loops. Like the run channels they carry only
 * what Postgres already holds: a subscriber that missed a message replays by id.
 */
const researchChannels = {
  /** Events and new points of one loop. */
  loop: (prefix: string, loopId: string) => `${prefix}:research:${loopId}`,
  /** "A loop changed" notes for lists. */
  loops: (prefix: string) => `${prefix}:research-loops`,
  /** Loop ids whose running experiment must stop now. */
  cancel: (prefix: string) => `${prefix}:research-cancel`,
};

export type ResearchMessage =
  | { kind: "events"; events: StoredResearchEvent[] }
  | { kind: "points"; experimentId: string; points: StoredPoint[] };

export interface LoopChange {
  loopId: string;
  status: string;
}

/** Publishes stored loop events, points and loop changes; best effort, logged, never thrown. */
export function createResearchNotifier(
  publisher: Redis,
  prefix: string,
  log: (message: string) => void = console.error,
): ResearchNotifier {
  const publish = async (channel: string, message: unknown) => {
    try {
      await publisher.publish(channel, JSON.stringify(message));
    } catch (error) {
      log(`[loopy] could not publish on ${channel}: ${(error as Error).message}`);
    }
  };
  return {
    async loopEvents(loopId, events) {
      if (events.length)
        await publish(researchChannels.loop(prefix, loopId), { kind: "events", events } satisfies ResearchMessage);
    },
    async points(loopId, experimentId, points) {
      if (points.length)
        await publish(researchChannels.loop(prefix, loopId), {
          kind: "points",
          experimentId,
          points,
        } satisfies ResearchMessage);
    },
    async loopChanged(loopId, status) {
      await publish(researchChannels.loops(prefix), { loopId, status } satisfies LoopChange);
    },
  };
}

export async function publishResearchCancel(publisher: Redis, prefix: string, loopId: string): Promise<void> {
  await publisher.publish(researchChannels.cancel(prefix), loopId);
}

export function listenResearchLoop(
  subscriptions: Subscriptions,
  prefix: string,
  loopId: string,
  onMessage: (message: ResearchMessage) => void,
) {
  return subscriptions.listen(researchChannels.loop(prefix, loopId), (m) =>
    onMessage(JSON.parse(m) as ResearchMessage),
  );
}

export function listenLoopChanges(
  subscriptions: Subscriptions,
  prefix: string,
  onChange: (change: LoopChange) => void,
) {
  return subscriptions.listen(researchChannels.loops(prefix), (m) => onChange(JSON.parse(m) as LoopChange));
}

export function listenResearchCancels(
  subscriptions: Subscriptions,
  prefix: string,
  onCancel: (loopId: string) => void,
) {
  return subscriptions.listen(researchChannels.cancel(prefix), onCancel);
}

/** Clients of the fleet's events: every event published on Redis, the overview stream, and a sample of members' streams. */
import { Redis } from "ioredis";
import type { BenchClient } from "./api-client.ts";
import { AGENTS, emittedAt, SAMPLE, type Samples, sleep } from "./common.ts";
import type { Bench } from "./context.ts";

export type Taps = Awaited<ReturnType<typeof listen>>;

/** Listeners, before the launch: every event published on Redis (the bench's own subscriber) and the overview stream. */
export async function listen(bench: Bench, client: BenchClient) {
  const { services, prefix, closers } = bench;
  const publishedPerRun = new Map<string, number>();
  const redisLatency: Samples = [];
  const tap = new Redis(services.redisUrl, { maxRetriesPerRequest: null });
  closers.push(() => tap.disconnect());
  tap.on("pmessage", (_pattern: string, channel: string, message: string) => {
    const now = Date.now();
    const runId = channel.slice(channel.lastIndexOf(":") + 1);
    for (const e of JSON.parse(message) as Array<{ event: { type: string; line?: string } }>) {
      const sim = e.event.type === "log" ? emittedAt(e.event.line ?? "") : null;
      if (!sim) continue;
      publishedPerRun.set(runId, (publishedPerRun.get(runId) ?? 0) + 1);
      redisLatency.push({ at: now, ms: now - sim.at });
    }
  });
  await tap.psubscribe(`${prefix}:run-events:*`);

  const overviewLatency: Samples = [];
  const overviewRuns = new Set<string>();
  const overview = { batches: 0, error: undefined as unknown };
  const overviewSub = client.overview.live.subscribe(undefined, {
    onData: (batch) => {
      const now = Date.now();
      overview.batches++;
      for (const r of batch.runs) {
        const sim = r.line ? emittedAt(r.line) : null;
        if (!sim) continue;
        overviewRuns.add(r.runId);
        overviewLatency.push({ at: now, ms: now - sim.at });
      }
    },
    onError: (error) => (overview.error = error),
  });
  closers.push(() => overviewSub.unsubscribe());
  await sleep(500); // the SSE connection and its Redis subscription are up
  return { publishedPerRun, redisLatency, overviewLatency, overviewRuns, overview };
}

export type Sample = ReturnType<typeof followSample>;

/** A sample of members followed over SSE, as a run page (or `loopy logs -f`) does. */
export function followSample(bench: Bench, client: BenchClient, members: Array<{ id: string }>) {
  const { closers } = bench;
  const sampleIds = members
    .filter((_, i) => i % Math.floor(AGENTS / SAMPLE) === 0)
    .slice(0, SAMPLE)
    .map((m) => m.id);
  const sseLatency: Samples = [];
  const sseLines = new Map<string, number[]>();
  const sseEnded = new Set<string>();
  const sseErrors: unknown[] = [];
  for (const runId of sampleIds) {
    sseLines.set(runId, []);
    const sub = client.runs.events.subscribe(
      { runId, lastEventId: null },
      {
        onData: ({ data }) => {
          const now = Date.now();
          const event = data.event;
          if (event.type === "log") {
            const sim = emittedAt(event.line);
            if (sim) {
              sseLines.get(runId)?.push(sim.i);
              sseLatency.push({ at: now, ms: now - sim.at });
            }
          }
          if (event.type === "status" && !["queued", "running", "verifying"].includes(event.status))
            sseEnded.add(runId);
        },
        onError: (error) => sseErrors.push(error),
      },
    );
    closers.push(() => sub.unsubscribe());
  }
  return { sampleIds, sseLatency, sseLines, sseEnded, sseErrors };
}

/** Nothing lost: what was stored, published and streamed agrees; nothing is left behind; the throughput of the window. */
import { readdir } from "node:fs/promises";
import { loadavg } from "node:os";
import path from "node:path";
import { AGENTS, check, sleep } from "./common.ts";
import type { Bench } from "./context.ts";
import type { Launched } from "./launch.ts";
import type { Sample, Taps } from "./listeners.ts";
import { processes } from "./proc.ts";
import type { Window } from "./steady.ts";

export type Throughput = Awaited<ReturnType<typeof verifyDelivery>>;

/** Per run, stored lines are 1..k without a gap; Redis and the SSE sample saw them all. Returns the window's throughput. */
export async function verifyDelivery(
  bench: Bench,
  workerPid: number,
  fleet: Launched["fleet"],
  taps: Taps,
  sample: Sample,
  window: Window,
) {
  const { q, home, git, results } = bench;
  const { publishedPerRun, overviewRuns, overview, redisLatency } = taps;
  const { sampleIds, sseLines, sseEnded, sseErrors } = sample;
  const { id0, id1, t0, t1, seconds, stored } = window;
  const perRun = await q<{ run_id: string; status: string; lines: number; last: number }>(
    `SELECT r.id AS run_id, r.status::text AS status, count(e.id)::int AS lines,
            coalesce(max(split_part(e.data->>'line', ' ', 3)::int), 0) AS last
     FROM runs r LEFT JOIN run_events e ON e.run_id = r.id AND e.type = 'log' AND e.data->>'line' LIKE 'sim %'
     WHERE r.fleet_id = $1 GROUP BY r.id, r.status`,
    [fleet.id],
  );
  const notCancelled = perRun.filter((r) => r.status !== "cancelled");
  check(
    notCancelled.length === 0,
    `${notCancelled.length} member(s) did not end cancelled: ${JSON.stringify(notCancelled.slice(0, 5))}`,
  );
  const gaps = perRun.filter((r) => r.lines !== r.last);
  check(
    gaps.length === 0,
    `${gaps.length} member(s) lost lines between the agent and Postgres: ${JSON.stringify(gaps.slice(0, 5))}`,
  );
  const storedLines = perRun.reduce((n, r) => n + r.lines, 0);
  await sleep(1_000); // the last publishes in flight
  const unpublished = perRun.filter((r) => (publishedPerRun.get(r.run_id) ?? 0) !== r.lines);
  check(
    unpublished.length === 0,
    `${unpublished.length} member(s) published a different number of lines than were stored: ${JSON.stringify(unpublished.slice(0, 5).map((r) => ({ ...r, published: publishedPerRun.get(r.run_id) ?? 0 })))}`,
  );
  const sseDeadline = Date.now() + 30_000;
  while (sseEnded.size < sampleIds.length && Date.now() < sseDeadline) await sleep(250);
  check(sseErrors.length === 0, `runs.events streams failed: ${String(sseErrors[0])}`);
  check(
    sseEnded.size === sampleIds.length,
    `${sampleIds.length - sseEnded.size} of ${sampleIds.length} runs.events streams never delivered the final status`,
  );
  const byRun = new Map(perRun.map((r) => [r.run_id, r]));
  for (const runId of sampleIds) {
    const got = sseLines.get(runId) ?? [];
    const want = byRun.get(runId)?.lines ?? -1;
    check(
      got.length === want && got.every((i, k) => i === k + 1),
      `runs.events of ${runId} delivered ${got.length} lines (in order: ${got.every((i, k) => i === k + 1)}), ${want} were stored`,
    );
  }
  check(overview.error === undefined, `overview.live failed: ${String(overview.error)}`);
  check(overviewRuns.size === AGENTS, `overview.live showed a line of ${overviewRuns.size} of ${AGENTS} agents`);
  // ".index" holds Loopy's own indexes of the workspaces, not a workspace.
  const worktreesLeft = (await readdir(path.join(home, "worktrees")).catch(() => [] as string[])).filter(
    (n) => !n.startsWith("."),
  ).length;
  const gitWorktrees =
    git("worktree", "list", "--porcelain")
      .split("\n")
      .filter((l) => l.startsWith("worktree ")).length - 1;
  const simsLeft = processes().filter((p) => p.ppid === workerPid && p.comm === "bash").length;
  check(
    worktreesLeft === 0 && gitWorktrees === 0,
    `after the cancel ${worktreesLeft} worktree folder(s) and ${gitWorktrees} git worktree(s) are left`,
  );
  check(simsLeft === 0, `after the cancel ${simsLeft} agent process(es) are still alive`);
  // Every line is stored by now: how many the agents printed in the window, and how many of those were stored within it.
  const [win] = await q<{ stored: number; emitted: number; stored_in_window: number }>(
    `SELECT count(*) FILTER (WHERE id > $1 AND id <= $2)::int AS stored,
            count(*) FILTER (WHERE type = 'log' AND data->>'line' LIKE 'sim %' AND split_part(data->>'line', ' ', 4)::float8 * 1000 BETWEEN $3 AND $4)::int AS emitted,
            count(*) FILTER (WHERE id > $1 AND id <= $2 AND type = 'log' AND data->>'line' LIKE 'sim %' AND split_part(data->>'line', ' ', 4)::float8 * 1000 BETWEEN $3 AND $4)::int AS stored_in_window
     FROM run_events WHERE id > $1 - 200000`,
    [id0, id1, t0, t1],
  );
  const throughput = {
    windowS: seconds,
    emittedPerS: win!.emitted / seconds,
    storedPerS: stored!.n / seconds,
    emittedAndStoredInWindowPerS: win!.stored_in_window / seconds,
    publishedPerS: redisLatency.filter((x) => x.at >= t0 && x.at <= t1).length / seconds,
  };
  results.throughput = throughput;
  results.delivery = {
    storedLines,
    sseStreams: sampleIds.length,
    sseLines: [...sseLines.values()].reduce((n, l) => n + l.length, 0),
    overviewBatches: overview.batches,
    overviewRunsSeen: overviewRuns.size,
  };
  results.loadAfter = loadavg();
  return throughput;
}

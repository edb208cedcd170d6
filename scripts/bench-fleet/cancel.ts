/** The fleet cancelled: every agent's process group is killed, every worktree removed. */
import type { BenchClient } from "./api-client.ts";
import { BenchFailure, CANCEL_TIMEOUT_MS, log, sleep } from "./common.ts";
import type { Bench } from "./context.ts";
import { dbWaits, type Launched } from "./launch.ts";
import { statusKb } from "./proc.ts";
import type { BenchWorker } from "./worker-process.ts";

/** Cancels the fleet and waits until every member has ended; returns the milliseconds that took. */
export async function cancelFleet(
  bench: Bench,
  client: BenchClient,
  worker: BenchWorker,
  fleet: Launched["fleet"],
): Promise<number> {
  const { q, results } = bench;
  const workerPid = worker.pid;
  const cancelAt = Date.now();
  await client.fleets.cancel.mutate({ fleetId: fleet.id });
  const cancelReturnedMs = Date.now() - cancelAt;
  let lastCancelReport = Date.now();
  for (;;) {
    const [row] = await q<{ open: number }>(
      `SELECT count(*) FILTER (WHERE status IN ('queued', 'running', 'verifying'))::int AS open FROM runs WHERE fleet_id = $1`,
      [fleet.id],
    );
    if (row!.open === 0) break;
    if (Date.now() - cancelAt > CANCEL_TIMEOUT_MS) {
      const stuck = await q<{ id: string; status: string; events: string }>(
        `SELECT r.id, r.status::text AS status, (SELECT string_agg(x.type || ' ' || left(x.data::text, 120), ' / ' ORDER BY x.id) FROM (SELECT * FROM run_events e WHERE e.run_id = r.id ORDER BY e.id DESC LIMIT 4) x) AS events
         FROM runs r WHERE fleet_id = $1 AND status IN ('queued', 'running', 'verifying') LIMIT 3`,
        [fleet.id],
      );
      throw new BenchFailure(
        `${CANCEL_TIMEOUT_MS / 1000} s after the cancel ${row!.open} members are still open: ${JSON.stringify(stuck)}\nworker log tail:\n${worker.log.slice(-20).join("\n")}`,
      );
    }
    if (Date.now() - lastCancelReport > 10_000) {
      log(`cancelling: ${row!.open} members still open; db: ${(await dbWaits(bench)) || "idle"}`);
      lastCancelReport = Date.now();
    }
    await sleep(500);
  }
  const cancelMs = Date.now() - cancelAt;
  worker.peakRssKb = Math.max(worker.peakRssKb, statusKb(workerPid, "VmHWM"));
  log(
    `cancelled: every member ended ${(cancelMs / 1000).toFixed(1)} s after the cancel (the call returned in ${cancelReturnedMs} ms)`,
  );
  results.cancel = { cancelReturnedMs, allMembersEndedMs: cancelMs };
  results.workerPeakRssMb = Math.round(worker.peakRssKb / 1024);
  return cancelMs;
}

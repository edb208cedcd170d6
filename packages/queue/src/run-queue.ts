import { Queue, Worker, type Job, type ConnectionOptions } from "bullmq";
import type { Redis } from "ioredis";
import { z } from "zod";
import type { RunScheduler } from "@loopy/core/shared";
import { publishCancel } from "./event-bus.ts";
import { removeWaitingJob } from "./remove-waiting.ts";

/** The queue of runs waiting for a worker. One job per run; job id = run id. */
const RUN_QUEUE = "runs";

const runJobSchema = z.object({ runId: z.string().min(1) });
export type RunJob = z.infer<typeof runJobSchema>;

/**
 * A run is executed once by the queue: a failed attempt ends as a failed run
 * (the worker records why) rather than a silent retry that would repeat an
 * agent's side effects. Stalled jobs (a worker that died) come back once, and
 * the worker that takes one over re-runs the interrupted turn from its start
 * (or fails the run after a second crash): see `executeRun`.
 */
const jobOptions = { attempts: 1, removeOnComplete: { age: 3600, count: 1000 }, removeOnFail: { age: 24 * 3600 } };

export function createRunQueue(connection: Redis, prefix: string): Queue<RunJob> {
  return new Queue<RunJob>(RUN_QUEUE, { connection: connection as ConnectionOptions, prefix });
}

/** The first turn's job id is the run id; a follow-up turn's is `<run id>-t<turn>`. */
export async function enqueueRun(queue: Queue<RunJob>, runId: string, turn = 0): Promise<void> {
  const jobId = turn === 0 ? runId : `${runId}-t${turn}`;
  const job = await queue.add("run", runJobSchema.parse({ runId }), { ...jobOptions, jobId });
  // Adding an id that exists is a no-op. A finished job of that id (a fleet member sent back to wait by a
  // pause after its first dispatch) must not swallow the new one: remove it and add again.
  const state = await job.getState();
  if (state === "completed" || state === "failed") {
    await queue.remove(jobId);
    await queue.add("run", runJobSchema.parse({ runId }), { ...jobOptions, jobId });
  }
}

/** The scheduler the domain uses, on BullMQ plus a Redis channel for cancel requests. */
export function createRunScheduler(queue: Queue<RunJob>, publisher: Redis, prefix: string): RunScheduler {
  return {
    enqueue: (runId, turn) => enqueueRun(queue, runId, turn),
    remove: (runId) => removeWaitingJob(queue, runId),
    requestCancel: (runId) => publishCancel(publisher, prefix, runId),
  };
}

/** Whether job `jobId` is waiting, delayed, prioritized or active (not finished, not missing). */
export async function hasLiveJob(queue: Queue<RunJob>, jobId: string): Promise<boolean> {
  const job = await queue.getJob(jobId);
  if (!job) return false;
  const state = await job.getState();
  return state !== "completed" && state !== "failed" && state !== "unknown";
}

/**
 * Makes sure job `jobId` for the run is queued or active: added when missing,
 * replaced when finished, left alone otherwise. True when it added one.
 */
export async function ensureRunJob(queue: Queue<RunJob>, runId: string, jobId: string): Promise<boolean> {
  if (await hasLiveJob(queue, jobId)) return false;
  await queue.remove(jobId).catch(() => 0);
  await queue.add("run", runJobSchema.parse({ runId }), { ...jobOptions, jobId });
  return true;
}

/**
 * Builds the worker that takes runs off the queue; `handle` does the work.
 * `lockMs` (LOOPY_RUN_LEASE) is how long a job stays locked without renewal:
 * a worker killed outright loses its jobs after it, and they come back once
 * (`maxStalledCount`) for another worker to take the run over.
 */
export function createRunWorker(
  connection: Redis,
  prefix: string,
  concurrency: number,
  handle: (job: RunJob, bullJob: Job<RunJob>, token: string | undefined) => Promise<void>,
  lockMs = 30_000,
): Worker<RunJob> {
  return new Worker<RunJob>(RUN_QUEUE, async (job, token) => handle(runJobSchema.parse(job.data), job, token), {
    connection: connection as ConnectionOptions,
    prefix,
    concurrency,
    maxStalledCount: 1,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    name: "loopy-worker",
  });
}

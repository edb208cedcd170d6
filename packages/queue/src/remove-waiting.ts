import type { Queue } from "bullmq";

/**
 * Removes the job `id` if it is still waiting (or delayed); false when there is
 * none or a worker already holds it (then the caller cancels it another way).
 */
export async function removeWaitingJob(queue: Queue, id: string): Promise<boolean> {
  const job = await queue.getJob(id);
  if (!job) return false;
  if (!(await job.isWaiting()) && !(await job.isDelayed())) return false;
  try {
    await job.remove();
    return true;
  } catch {
    // It became active (locked by a worker) in the meantime.
    return false;
  }
}

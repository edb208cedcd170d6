import type { Db } from "@loopy/db/client";

/**
 * Named resource slots (gpu0..gpu7) shared by every loop of a project. A slot
 * is a row in research_slot_leases with an expiry: taken with one conditional
 * upsert (free, expired, or already this experiment's), renewed by the holder's
 * heartbeat, released when the experiment's process exits. A worker that dies
 * holding one loses it when the lease runs out.
 */
export interface SlotClaim {
  projectId: string;
  loopId: string;
  experimentId: string;
  holder: string;
  leaseMs: number;
}

/** Takes the first free slot of `slots`, or returns null when all are busy. */
export async function tryAcquireSlot(db: Db, slots: string[], claim: SlotClaim): Promise<string | null> {
  for (const slot of slots) {
    const rows = await db.$queryRaw<Array<{ slot: string }>>`
      INSERT INTO research_slot_leases (project_id, slot, loop_id, experiment_id, holder, acquired_at, expires_at)
      VALUES (${claim.projectId}, ${slot}, ${claim.loopId}, ${claim.experimentId}, ${claim.holder}, now(), now() + ${claim.leaseMs}::int * interval '1 millisecond')
      ON CONFLICT (project_id, slot) DO UPDATE
        SET loop_id = EXCLUDED.loop_id, experiment_id = EXCLUDED.experiment_id, holder = EXCLUDED.holder,
            acquired_at = now(), expires_at = EXCLUDED.expires_at
        WHERE research_slot_leases.expires_at < now() OR research_slot_leases.experiment_id = EXCLUDED.experiment_id
      RETURNING slot`;
    if (rows.length > 0) return slot;
  }
  return null;
}

/** Waits for a free slot (polling every `pollMs`), or null when `signal` aborts first. */
export async function acquireSlot(
  db: Db,
  slots: string[],
  claim: SlotClaim,
  signal: AbortSignal,
  pollMs = 200,
): Promise<string | null> {
  for (;;) {
    if (signal.aborted) return null;
    const slot = await tryAcquireSlot(db, slots, claim);
    if (slot) return slot;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, pollMs);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

export async function releaseSlots(
  db: Db,
  where: { experimentId: string } | { holder: string; loopId: string },
): Promise<void> {
  await db.researchSlotLease.deleteMany({ where });
}

/** Extends every lease a holder has for a loop. */
export async function renewSlots(db: Db, holder: string, loopId: string, leaseMs: number): Promise<void> {
  await db.$executeRaw`UPDATE research_slot_leases SET expires_at = now() + ${leaseMs}::int * interval '1 millisecond' WHERE holder = ${holder} AND loop_id = ${loopId}`;
}

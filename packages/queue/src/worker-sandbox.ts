import type { Redis } from "ioredis";

/** Whether one worker process confines its agents, as it found at start. */
export interface WorkerSandbox {
  host: string;
  pid: number;
  mode: "auto" | "on" | "off";
  /** True when agents and command checkpoints run inside bubblewrap. */
  confined: boolean;
  /** Why not: "sandbox off", or what the bubblewrap probe said. */
  reason: string | null;
}

/** Refreshed this often; an entry not refreshed for TTL (a worker killed outright) is ignored and removed. */
const REFRESH_MS = 15_000;
const TTL_MS = 45_000;

const key = (prefix: string) => `${prefix}:worker-sandbox`;
const field = (state: { host: string; pid: number }) => `${state.host}:${state.pid}`;

/**
 * Publishes this worker's sandbox state for the web (a banner when agents run unconfined): one field per
 * worker in a hash under the installation's prefix, with its expiry in the value, refreshed every 15 s.
 * A hash rather than a key per worker, so the web reads them all with one HGETALL instead of a SCAN.
 * Returns the stop function (called on shutdown), which removes the entry.
 */
export function publishWorkerSandbox(
  redis: Redis,
  prefix: string,
  state: WorkerSandbox,
  options: { refreshMs?: number; ttlMs?: number } = {},
): () => Promise<void> {
  const refreshMs = options.refreshMs ?? REFRESH_MS;
  const ttlMs = options.ttlMs ?? TTL_MS;
  // Best effort, retried every refresh: the entry only drives the web's banner, and Redis being down is
  // reported by the worker's own connection.
  const write = () =>
    redis
      .hset(key(prefix), field(state), JSON.stringify({ ...state, expiresAt: Date.now() + ttlMs }))
      .catch(() => undefined);
  void write();
  const timer = setInterval(() => void write(), refreshMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    // On shutdown: an entry left behind expires after TTL_MS.
    await redis.hdel(key(prefix), field(state)).catch(() => undefined);
  };
}

/** The sandbox state of every live worker, by host then pid; expired entries are removed on the way. */
export async function readWorkerSandboxes(redis: Redis, prefix: string, now = Date.now()): Promise<WorkerSandbox[]> {
  const entries = await redis.hgetall(key(prefix));
  const live: WorkerSandbox[] = [];
  const expired: string[] = [];
  for (const [name, value] of Object.entries(entries)) {
    let parsed: (WorkerSandbox & { expiresAt?: number }) | null = null;
    try {
      parsed = JSON.parse(value) as WorkerSandbox & { expiresAt?: number };
    } catch {
      parsed = null;
    }
    if (!parsed || typeof parsed.expiresAt !== "number" || parsed.expiresAt <= now) {
      expired.push(name);
      continue;
    }
    live.push({
      host: String(parsed.host),
      pid: Number(parsed.pid),
      mode: parsed.mode,
      confined: parsed.confined === true,
      reason: parsed.reason ?? null,
    });
  }
  // Tidying only: expired entries are skipped above whether or not they are removed.
  if (expired.length) await redis.hdel(key(prefix), ...expired).catch(() => undefined);
  return live.sort((a, b) => a.host.localeCompare(b.host) || a.pid - b.pid);
}

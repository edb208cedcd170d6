/** The bench's parameters (from argv), the simulated agent, and small helpers every step uses. */
import path from "node:path";
import { fileURLToPath } from "node:url";

export const AGENTS = Number(process.argv[2] ?? 1000);
export const WINDOW_MS = Number(process.argv[3] ?? 30) * 1000;
/** Members whose `runs.events` stream a client follows (each one SSE connection). */
export const SAMPLE = Math.min(50, AGENTS);
export const INTERVAL_S = 1;
/** Lines per agent: more than the bench lasts; the fleet is cancelled at the end. */
const LINES = 3600;
export const RAMP_TIMEOUT_MS = 300_000;
export const CANCEL_TIMEOUT_MS = 300_000;
export const SETTLE_MS = 5_000;
if (!Number.isInteger(AGENTS) || AGENTS < 1 || AGENTS > 1000)
  throw new Error(`agents must be 1..1000 (a fleet's limit), got ${process.argv[2]}`);

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// One persistent process per agent: bash. `read -t` on a FIFO it holds open itself is its sleep (no fork a line).
export const SIM = [
  `f="\${TMPDIR:-/tmp}/loopy-sim-$$"; mkfifo "$f"; exec 3<>"$f"; rm -f "$f"`,
  `for ((i = 1; i <= ${LINES}; i++)); do echo "sim $LOOPY_MEMBER_INDEX $i $EPOCHREALTIME"; read -t ${INTERVAL_S} -u 3 || :; done`,
].join("; ");
/** A sim line: `sim <member> <i> <emit epoch seconds>`. */
const SIM_LINE = /^sim (\d+) (\d+) (\d+\.\d+)$/;
export const emittedAt = (line: string): { member: number; i: number; at: number } | null => {
  const m = SIM_LINE.exec(line);
  return m ? { member: Number(m[1]), i: Number(m[2]), at: Number(m[3]) * 1000 } : null;
};

export const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
};
export const stats = (xs: number[]) => ({
  n: xs.length,
  p50: Math.round(quantile(xs, 0.5)),
  p99: Math.round(quantile(xs, 0.99)),
  max: xs.length ? Math.round(Math.max(...xs)) : NaN,
});
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
export class BenchFailure extends Error {}
export const check = (ok: boolean, message: string) => {
  if (!ok) throw new BenchFailure(message);
};

/** Latencies by when they were received. */
export type Samples = Array<{ at: number; ms: number }>;

import type { RunStatus } from "@loopy/db/client";

/**
 * Best-of-N ranking, a pure function of the members' rows: members that can be
 * approved (awaiting review, every required checkpoint green) first, then the
 * fleet's declared metric (a `NAME: value` line in the latest checkpoint output
 * or the run's log tail), then the smaller diff (additions + deletions), then
 * the lower cost, then the member index.
 */

export interface FleetMetric {
  name: string;
  direction: "min" | "max";
}

export interface RankableMember {
  id: string;
  memberIndex: number;
  status: RunStatus;
  checksPassed: boolean | null;
  additions: number | null;
  deletions: number | null;
  costUsd: number;
  metricValue: number | null;
}

export interface RankedMember {
  runId: string;
  rank: number;
  /** Whether approving this member is possible now (awaiting review with green checks). */
  eligible: boolean;
  /** Why it sits where it does, in order of the ranking's keys. */
  reasons: string[];
}

const NUMBER = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;

/** The last `NAME: value` line's value in `text` (NAME matched exactly, at the start of a line); null when there is none. */
export function parseMetric(text: string | null | undefined, name: string): number | null {
  if (!text) return null;
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re = new RegExp(String.raw`^\s*${escaped}\s*:\s*(${NUMBER})\s*$`, "gm");
  let value: number | null = null;
  for (const m of text.matchAll(re)) {
    const n = Number(m[1]);
    if (Number.isFinite(n)) value = n;
  }
  return value;
}

export function isEligible(m: Pick<RankableMember, "status" | "checksPassed">): boolean {
  return m.status === "awaiting_review" && m.checksPassed !== false;
}

function tier(m: RankableMember): number {
  if (isEligible(m) || (m.status === "merged" && m.checksPassed !== false)) return 0;
  if (m.status === "queued" || m.status === "running" || m.status === "verifying") return 2;
  return 1;
}

function diffLines(m: RankableMember): number | null {
  return m.additions === null && m.deletions === null ? null : (m.additions ?? 0) + (m.deletions ?? 0);
}

export function rankMembers(members: readonly RankableMember[], metric: FleetMetric | null): RankedMember[] {
  const sign = metric?.direction === "max" ? -1 : 1;
  const sorted = [...members].sort((a, b) => {
    const byTier = tier(a) - tier(b);
    if (byTier) return byTier;
    if (metric) {
      if (a.metricValue !== null && b.metricValue === null) return -1;
      if (a.metricValue === null && b.metricValue !== null) return 1;
      if (a.metricValue !== null && b.metricValue !== null && a.metricValue !== b.metricValue)
        return sign * (a.metricValue - b.metricValue);
    }
    const da = diffLines(a) ?? Number.POSITIVE_INFINITY;
    const db = diffLines(b) ?? Number.POSITIVE_INFINITY;
    if (da !== db) return da - db;
    if (a.costUsd !== b.costUsd) return a.costUsd - b.costUsd;
    return a.memberIndex - b.memberIndex;
  });
  return sorted.map((m, i) => {
    const reasons: string[] = [];
    const t = tier(m);
    if (t === 0)
      reasons.push(m.checksPassed === null ? "no required checkpoints; finished" : "all required checkpoints green");
    else if (t === 2) reasons.push(`not finished (${m.status})`);
    else if (m.checksPassed === false) reasons.push("a required checkpoint failed");
    else reasons.push(`cannot be approved (${m.status.replace("_", " ")})`);
    if (metric)
      reasons.push(
        m.metricValue === null
          ? `no ${metric.name} value`
          : `${metric.name} ${m.metricValue} (${metric.direction === "min" ? "lower" : "higher"} is better)`,
      );
    const lines = diffLines(m);
    reasons.push(
      lines === null
        ? "no diff yet"
        : `diff ${lines} line${lines === 1 ? "" : "s"} (+${m.additions ?? 0} −${m.deletions ?? 0})`,
    );
    reasons.push(`cost $${m.costUsd.toFixed(4)}`);
    return { runId: m.id, rank: i + 1, eligible: isEligible(m), reasons };
  });
}

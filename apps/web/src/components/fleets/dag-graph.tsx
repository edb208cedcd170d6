"use client";

import Link from "next/link";
import { useMemo } from "react";

export interface DagNode {
  id: string;
  label: string;
  status?: string;
  dependsOn: string[];
  href?: string;
}

const FILL: Record<string, string> = {
  queued: "var(--color-dag-queued)",
  running: "var(--color-dag-running)",
  verifying: "var(--color-dag-verifying)",
  awaiting_review: "var(--color-dag-awaiting-review)",
  needs_attention: "var(--color-dag-needs-attention)",
  merged: "var(--color-dag-merged)",
  succeeded: "var(--color-dag-succeeded)",
  failed: "var(--color-dag-failed)",
  rejected: "var(--color-dag-rejected)",
  cancelled: "var(--color-dag-cancelled)",
};
const W = 190;
const H = 46;
const GAP_X = 70;
const GAP_Y = 18;

/** Columns by depth: a node sits one column right of its deepest dependency. */
function layout(nodes: DagNode[]) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const depth = new Map<string, number>();
  const depthOf = (id: string, seen: Set<string>): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0;
    seen.add(id);
    const deps = byId.get(id)?.dependsOn.filter((d) => byId.has(d)) ?? [];
    const d = deps.length ? Math.max(...deps.map((x) => depthOf(x, seen))) + 1 : 0;
    depth.set(id, d);
    return d;
  };
  const columns: DagNode[][] = [];
  for (const n of nodes) {
    const d = depthOf(n.id, new Set());
    columns[d] = [...(columns[d] ?? []), n];
  }
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((col, c) => {
    col.forEach((n, r) => {
      pos.set(n.id, { x: c * (W + GAP_X), y: r * (H + GAP_Y) });
    });
  });
  const width = Math.max(1, columns.length) * (W + GAP_X) - GAP_X;
  const height = Math.max(1, ...columns.map((c) => c.length)) * (H + GAP_Y) - GAP_Y;
  return { pos, width, height };
}

/** A plan or a decomposed fleet as a graph: subtasks left to right in dependency order, coloured by state. */
export function DagGraph({ nodes }: { nodes: DagNode[] }) {
  const { pos, width, height } = useMemo(() => layout(nodes), [nodes]);
  return (
    <div className="overflow-auto rounded-md border border-white/10 bg-black/20 p-3" data-testid="dag">
      <svg width={width} height={height} role="img" aria-label="Subtasks and their dependencies">
        {nodes.flatMap((n) =>
          n.dependsOn.flatMap((d) => {
            const from = pos.get(d);
            const to = pos.get(n.id);
            if (!from || !to) return [];
            const x1 = from.x + W;
            const y1 = from.y + H / 2;
            const x2 = to.x;
            const y2 = to.y + H / 2;
            return [
              <path
                key={`${d}-${n.id}`}
                d={`M${x1},${y1} C${x1 + GAP_X / 2},${y1} ${x2 - GAP_X / 2},${y2} ${x2},${y2}`}
                stroke="var(--color-dag-edge)"
                strokeWidth={1.5}
                fill="none"
                markerEnd="url(#arrow)"
              />,
            ];
          }),
        )}
        <defs>
          <marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M0,0 L8,4 L0,8 z" fill="var(--color-dag-edge)" />
          </marker>
        </defs>
        {nodes.map((n) => {
          const p = pos.get(n.id)!;
          const box = (
            <g key="node" data-testid="dag-node" data-status={n.status ?? ""} data-label={n.label}>
              <rect
                x={p.x}
                y={p.y}
                width={W}
                height={H}
                rx={6}
                fill={FILL[n.status ?? ""] ?? "var(--color-dag-none)"}
                stroke="var(--color-dag-outline)"
              />
              <text x={p.x + 10} y={p.y + 19} fill="var(--color-dag-title)" fontSize={12}>
                {n.label.length > 26 ? `${n.label.slice(0, 25)}…` : n.label}
              </text>
              <text x={p.x + 10} y={p.y + 36} fill="var(--color-dag-subtitle)" fontSize={10}>
                {(n.status ?? "planned").replace("_", " ")}
              </text>
            </g>
          );
          return n.href ? (
            <Link key={n.id} href={n.href}>
              {box}
            </Link>
          ) : (
            <g key={n.id}>{box}</g>
          );
        })}
      </svg>
    </div>
  );
}

import { downsampleMinMax, type XY } from "@loopy/research-math/downsample";
import type { useTRPC } from "~/trpc/client";

/** Points kept per series in the browser; past this a live series is min/max-downsampled to half. */
export const LIVE_LIMIT = 4_000;
/** What a chart asks the server for: about two points per horizontal pixel of a wide chart. */
const CHART_POINTS = 1_600;
/** The colours of overlaid series, from the theme (read by the SVG through CSS variables). */
export const SERIES_COLORS = [1, 2, 3, 4, 5, 6].map((i) => `var(--color-series-${i})`);

/** A metric point pushed by the stream. */
export interface LivePoint {
  id: string;
  experimentId: string;
  step: number;
  name: string;
  value: number;
}

type PointsPage = {
  lastId: string | null;
  series: Array<{ name: string; points: Array<{ step: number; value: number }> }>;
};

/** Server points (downsampled) plus what the stream pushed after them, per series name. */
export function mergeSeries(base: PointsPage | undefined, live: LivePoint[] | undefined): Map<string, XY[]> {
  const byName = new Map<string, XY[]>();
  if (!base) return byName;
  for (const s of base.series)
    byName.set(
      s.name,
      s.points.map((p) => ({ x: p.step, y: p.value })),
    );
  const after = base.lastId ? BigInt(base.lastId) : null;
  for (const p of live ?? []) {
    if (after !== null && BigInt(p.id) <= after) continue;
    const list = byName.get(p.name) ?? [];
    if (list.length === 0) byName.set(p.name, list);
    list.push({ x: p.step, y: p.value });
  }
  for (const [name, list] of byName) {
    list.sort((a, b) => a.x - b.x);
    if (list.length > LIVE_LIMIT) byName.set(name, downsampleMinMax(list, CHART_POINTS));
  }
  return byName;
}

/** Asked for once the stream is set up, so no point falls between the two (live ones past lastId are added). */
export function pointsQuery(trpc: ReturnType<typeof useTRPC>, experimentId: string, ready: boolean) {
  return {
    ...trpc.research.points.queryOptions({ experimentId, maxPoints: CHART_POINTS }),
    enabled: ready,
    staleTime: Number.POSITIVE_INFINITY,
  };
}

/** The series to show: the one chosen if it exists, else "loss", else the first. */
export function pickSeries(names: string[], chosen: string | null) {
  return chosen && names.includes(chosen) ? chosen : (names.find((n) => n === "loss") ?? names[0] ?? "loss");
}

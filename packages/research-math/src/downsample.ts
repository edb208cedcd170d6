/**
 * Downsampling for charts: min/max buckets over the x range (one bucket per
 * horizontal pixel, two points each), so a spike in a long series survives at
 * any zoom. Deterministic, never random: the same series always gives the same
 * points, and every point returned is a real measurement.
 */
export interface XY {
  x: number;
  y: number;
}

/**
 * At most `maxPoints` of `points` (sorted by x): for each of `maxPoints / 2`
 * equal-width x buckets, its lowest and highest point, in x order. The first
 * and last points of the series are always kept, so the line spans the whole
 * range. A series that already fits is returned unchanged.
 */
export function downsampleMinMax<T extends XY>(points: readonly T[], maxPoints: number): T[] {
  const limit = Math.max(2, Math.floor(maxPoints));
  if (points.length <= limit) return [...points];
  const first = points[0] as T;
  const last = points[points.length - 1] as T;
  // Two slots go to the end points; each bucket gives up to two more.
  const buckets = Math.max(1, Math.floor((limit - 2) / 2));
  const x0 = first.x;
  const width = (last.x - x0) / buckets;
  const out: T[] = [first];
  let i = 1;
  for (let b = 0; b < buckets && i < points.length - 1; b++) {
    const end = b === buckets - 1 || width === 0 ? Infinity : x0 + (b + 1) * width;
    let lo: T | undefined;
    let hi: T | undefined;
    let loAt = -1;
    let hiAt = -1;
    for (; i < points.length - 1 && (points[i] as T).x < end; i++) {
      const p = points[i] as T;
      if (!lo || p.y < lo.y) {
        lo = p;
        loAt = i;
      }
      if (!hi || p.y > hi.y) {
        hi = p;
        hiAt = i;
      }
    }
    if (!lo || !hi) continue;
    if (loAt === hiAt) out.push(lo);
    else if (loAt < hiAt) out.push(lo, hi);
    else out.push(hi, lo);
  }
  out.push(last);
  return out;
}

import { describe, expect, it } from "vitest";
import { downsampleMinMax, type XY } from "./downsample.ts";

const series = (n: number, f: (i: number) => number): XY[] => Array.from({ length: n }, (_, i) => ({ x: i, y: f(i) }));

describe("downsampleMinMax", () => {
  it("returns a series that fits unchanged", () => {
    const s = series(10, (i) => i * i);
    expect(downsampleMinMax(s, 10)).toEqual(s);
    expect(downsampleMinMax([], 100)).toEqual([]);
    expect(downsampleMinMax([{ x: 1, y: 2 }], 100)).toEqual([{ x: 1, y: 2 }]);
  });

  it("keeps at most maxPoints real points, in x order, with both ends", () => {
    const s = series(100_000, (i) => Math.sin(i / 500) + ((i * 7919) % 13) / 100);
    const out = downsampleMinMax(s, 800);
    expect(out.length).toBeLessThanOrEqual(800);
    expect(out.length).toBeGreaterThan(700);
    expect(out[0]).toBe(s[0]);
    expect(out.at(-1)).toBe(s.at(-1));
    for (let k = 1; k < out.length; k++) expect(out[k]!.x).toBeGreaterThan(out[k - 1]!.x);
    // Every point is a measurement from the input, not an average.
    for (const p of out) expect(s[p.x]).toBe(p);
  });

  it("lets a one-sample spike survive, up or down", () => {
    const s = series(50_000, () => 1);
    s[31_337] = { x: 31_337, y: 40 };
    s[7_001] = { x: 7_001, y: -9 };
    const out = downsampleMinMax(s, 100);
    expect(out).toContainEqual({ x: 31_337, y: 40 });
    expect(out).toContainEqual({ x: 7_001, y: -9 });
    expect(Math.max(...out.map((p) => p.y))).toBe(40);
    expect(Math.min(...out.map((p) => p.y))).toBe(-9);
  });

  it("buckets by x, not by index, so uneven step spacing keeps its shape", () => {
    // Dense early steps, sparse late ones: the late points each get a bucket of their own.
    const dense = series(10_000, (i) => i % 2);
    const sparse = [20_000, 40_000, 60_000, 80_000].map((x, k) => ({ x, y: 10 + k }));
    const out = downsampleMinMax([...dense, ...sparse], 40);
    for (const p of sparse) expect(out).toContainEqual(p);
  });

  it("is deterministic", () => {
    const s = series(5000, (i) => Math.cos(i) * i);
    expect(downsampleMinMax(s, 64)).toEqual(downsampleMinMax(s, 64));
  });
});

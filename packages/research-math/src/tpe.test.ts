import { describe, expect, it } from "vitest";
import { parseSpace, sampleRandom, type Params, type SearchSpace } from "./space.ts";
import { createRng } from "./rng.ts";
import { suggest, type Optimizer, type Trial } from "./tpe.ts";

/** Runs an optimizer for `n` trials on `f` and returns the best value after each trial. */
function optimize(
  optimizer: Optimizer,
  space: SearchSpace,
  f: (p: Params) => number,
  n: number,
  seed: number,
): number[] {
  const trials: Trial[] = [];
  const best: number[] = [];
  for (let i = 0; i < n; i++) {
    const params = suggest(optimizer, space, trials, { seed });
    trials.push({ params, value: f(params) });
    best.push(Math.min(...trials.map((t) => t.value)));
  }
  return best;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

// Branin: three global minima of 0.397887 on x ∈ [-5, 10], y ∈ [0, 15].
const branin = (p: Params) => {
  const x = p.x as number;
  const y = p.y as number;
  const b = 5.1 / (4 * Math.PI ** 2);
  return (y - b * x * x + (5 / Math.PI) * x - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x) + 10;
};
const braninSpace = parseSpace({ x: { type: "float", low: -5, high: 10 }, y: { type: "float", low: 0, high: 15 } });

describe("search spaces", () => {
  it("rejects bad spaces with the parameter named", () => {
    expect(() => parseSpace({})).toThrow(/at least one parameter/);
    expect(() => parseSpace({ lr: { type: "log-float", low: 0, high: 1 } })).toThrow(
      /at lr: a log-float range must be above 0/,
    );
    expect(() => parseSpace({ n: { type: "int", low: 5, high: 2 } })).toThrow(/at n: low must be below high/);
    expect(() => parseSpace({ act: { type: "categorical", choices: [] } })).toThrow(
      /at act\.choices: give at least one choice/,
    );
  });

  it("samples inside the bounds, ints as integers, log-floats spread over decades", () => {
    const space = parseSpace({
      lr: { type: "log-float", low: 1e-5, high: 1e-1 },
      n: { type: "int", low: 1, high: 8 },
      act: { type: "categorical", choices: ["relu", "gelu"] },
    });
    const rng = createRng(1);
    const samples = Array.from({ length: 2000 }, () => sampleRandom(space, rng));
    for (const s of samples) {
      expect(s.lr as number).toBeGreaterThanOrEqual(1e-5);
      expect(s.lr as number).toBeLessThanOrEqual(1e-1);
      expect(Number.isInteger(s.n)).toBe(true);
      expect(["relu", "gelu"]).toContain(s.act);
    }
    const belowMilli = samples.filter((s) => (s.lr as number) < 1e-3).length / samples.length;
    expect(belowMilli).toBeGreaterThan(0.4); // half the decades lie below 1e-3
    expect(belowMilli).toBeLessThan(0.6);
  });
});

describe("TPE", () => {
  it("is reproducible: the same seed and history give the same suggestions", () => {
    expect(optimize("tpe", braninSpace, branin, 30, 7)).toEqual(optimize("tpe", braninSpace, branin, 30, 7));
    expect(optimize("tpe", braninSpace, branin, 30, 7)).not.toEqual(optimize("tpe", braninSpace, branin, 30, 8));
  });

  it("finds Branin's minimum (0.398) closely in 80 trials, and beats random search", () => {
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const tpe = seeds.map((s) => optimize("tpe", braninSpace, branin, 80, s).at(-1) as number);
    const random = seeds.map((s) => optimize("random", braninSpace, branin, 80, s).at(-1) as number);
    expect(median(tpe)).toBeLessThan(0.6);
    expect(median(tpe)).toBeLessThan(median(random));
  });

  it("handles log-float, int and categorical parameters together", () => {
    // Minimum 0 at lr = 1e-3, layers = 4, act = "gelu".
    const space = parseSpace({
      lr: { type: "log-float", low: 1e-5, high: 1e-1 },
      layers: { type: "int", low: 1, high: 12 },
      act: { type: "categorical", choices: ["relu", "tanh", "gelu", "silu"] },
    });
    const f = (p: Params) =>
      (Math.log10(p.lr as number) + 3) ** 2 + ((p.layers as number) - 4) ** 2 / 10 + (p.act === "gelu" ? 0 : 1);
    const bests = [11, 12, 13, 14, 15].map((s) => optimize("tpe", space, f, 60, s).at(-1) as number);
    expect(median(bests)).toBeLessThan(0.2);
  });
});

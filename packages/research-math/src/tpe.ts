import { createRng, normal } from "./rng.ts";
import { fromUnit, sampleRandom, toUnit, type Param, type Params, type SearchSpace } from "./space.ts";

/**
 * Tree-structured Parzen Estimator (Bergstra et al. 2011), univariate as in
 * Optuna's default: past trials are split into the best γ fraction ("good")
 * and the rest; for each parameter a Parzen density is fitted to each group
 * (Gaussian kernels on the unit interval, bandwidth from neighbour distances,
 * plus a flat prior), candidates are drawn from the good density, and the one
 * with the highest good/bad density ratio wins. Categorical parameters use
 * smoothed counts. The first `startup` trials are random.
 */
export interface Trial {
  params: Params;
  /** The objective, lower is better (negate a metric to maximise). Crashed trials are left out. */
  value: number;
}

export interface TpeOptions {
  seed: number;
  startup?: number;
  candidates?: number;
  /** Fraction of trials counted as good: γ(n) = min(ceil(gamma·n), 25). */
  gamma?: number;
  priorWeight?: number;
}

export type Optimizer = "random" | "tpe";

/** The next point to try. Deterministic for a given seed, trial list and index. */
export function suggest(optimizer: Optimizer, space: SearchSpace, trials: Trial[], options: TpeOptions): Params {
  // One stream per suggestion index keeps results reproducible across restarts.
  const rng = createRng(options.seed * 1_000_003 + trials.length * 7919 + 17);
  const startup = options.startup ?? 10;
  if (optimizer === "random" || trials.length < startup) return sampleRandom(space, rng);
  const sorted = [...trials].sort((a, b) => a.value - b.value);
  const nGood = Math.max(1, Math.min(Math.ceil((options.gamma ?? 0.25) * sorted.length), 25));
  const good = sorted.slice(0, nGood);
  const bad = sorted.slice(nGood);
  const params: Params = {};
  for (const [name, param] of Object.entries(space)) {
    params[name] = suggestParam(
      param,
      good.map((t) => t.params[name]),
      bad.map((t) => t.params[name]),
      rng,
      options,
    );
  }
  return params;
}

function suggestParam(
  param: Param,
  good: unknown[],
  bad: unknown[],
  rng: () => number,
  options: TpeOptions,
): string | number | boolean {
  const candidates = options.candidates ?? 24;
  const prior = options.priorWeight ?? 1;
  if (param.type === "categorical") {
    const weights = (values: unknown[]) => {
      const w = param.choices.map(() => prior / param.choices.length);
      for (const v of values) {
        const i = param.choices.indexOf(v as never);
        if (i >= 0) w[i] = (w[i] as number) + 1;
      }
      const total = w.reduce((a, b) => a + b, 0);
      return w.map((x) => x / total);
    };
    const l = weights(good);
    const g = weights(bad);
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < candidates; c++) {
      // Draw from l.
      let r = rng();
      let i = 0;
      while (i < l.length - 1 && r > (l[i] as number)) r -= l[i++] as number;
      const score = Math.log(l[i] as number) - Math.log(g[i] as number);
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    return param.choices[best] as string | number | boolean;
  }
  const toU = (values: unknown[]) =>
    values.filter((v): v is number => typeof v === "number").map((v) => toUnit(param, v));
  const l = parzen(toU(good), prior);
  const g = parzen(toU(bad), prior);
  let best = 0.5;
  let bestScore = -Infinity;
  for (let c = 0; c < candidates; c++) {
    const x = l.sample(rng);
    const score = Math.log(l.density(x)) - Math.log(g.density(x));
    if (score > bestScore) {
      bestScore = score;
      best = x;
    }
  }
  return fromUnit(param, best);
}

/** A mixture of Gaussians truncated to [0, 1], plus a flat prior component. */
function parzen(points: number[], priorWeight: number) {
  const sorted = [...points].sort((a, b) => a - b);
  const n = sorted.length;
  const mus = [...sorted, 0.5];
  // Bandwidth: the larger gap to a neighbour, clipped; the prior is wide.
  const sigmas = sorted.map((x, i) => {
    const left = i === 0 ? x : x - (sorted[i - 1] as number);
    const right = i === n - 1 ? 1 - x : (sorted[i + 1] as number) - x;
    return Math.min(1, Math.max(Math.max(left, right), 1 / Math.min(100, n + 1)));
  });
  sigmas.push(1);
  const weights = [...sorted.map(() => 1), priorWeight];
  const total = weights.reduce((a, b) => a + b, 0);
  const w = weights.map((x) => x / total);
  const pdf = (x: number, mu: number, s: number) => {
    const z = (x - mu) / s;
    // Normalise over [0, 1] so truncated kernels still integrate to one.
    const mass = cdf((1 - mu) / s) - cdf((0 - mu) / s);
    return Math.exp(-0.5 * z * z) / (s * Math.sqrt(2 * Math.PI) * Math.max(mass, 1e-12));
  };
  return {
    density(x: number): number {
      let d = 0;
      for (let i = 0; i < mus.length; i++) d += (w[i] as number) * pdf(x, mus[i] as number, sigmas[i] as number);
      return Math.max(d, 1e-300);
    },
    sample(rng: () => number): number {
      let r = rng();
      let i = 0;
      while (i < w.length - 1 && r > (w[i] as number)) r -= w[i++] as number;
      for (let attempt = 0; attempt < 100; attempt++) {
        const x = (mus[i] as number) + (sigmas[i] as number) * normal(rng);
        if (x >= 0 && x <= 1) return x;
      }
      return Math.min(1, Math.max(0, mus[i] as number));
    },
  };
}

function cdf(z: number): number {
  // Abramowitz–Stegun 7.1.26 via erf.
  const t = 1 / (1 + 0.3275911 * Math.abs(z / Math.SQRT2));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-(z * z) / 2);
  return 0.5 * (1 + Math.sign(z) * y);
}

/**
 * `npm run bench:search`: how many experiments random search and TPE need to
 * reach a target, median over seeds, on functions with known minima. Pure
 * optimizer figures (no processes); the loop's orchestration overhead is
 * measured by the research-loop benchmark once loops run in the worker.
 */
import { parseSpace, type Params, type SearchSpace } from "../src/space.ts";
import { suggest, type Optimizer, type Trial } from "../src/tpe.ts";

interface Problem {
  name: string;
  space: SearchSpace;
  f: (p: Params) => number;
  target: number;
}

const b = 5.1 / (4 * Math.PI ** 2);
const problems: Problem[] = [
  {
    name: "Branin (min 0.398), target 0.5",
    space: parseSpace({ x: { type: "float", low: -5, high: 10 }, y: { type: "float", low: 0, high: 15 } }),
    f: (p) => {
      const x = p.x as number;
      const y = p.y as number;
      return (y - b * x * x + (5 / Math.PI) * x - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x) + 10;
    },
    target: 0.5,
  },
  {
    name: "LM-like: log lr, int width, categorical act (min 0), target 0.1",
    space: parseSpace({
      lr: { type: "log-float", low: 1e-5, high: 1 },
      width: { type: "int", low: 16, high: 1024 },
      act: { type: "categorical", choices: ["relu", "tanh", "gelu", "silu"] },
    }),
    f: (p) =>
      (Math.log10(p.lr as number) + 2.5) ** 2 / 4 +
      (Math.log2(p.width as number) - 8) ** 2 / 16 +
      (p.act === "gelu" ? 0 : 0.3),
    target: 0.1,
  },
  {
    name: "6-d sphere in [-1, 1] (min 0), target 0.3",
    space: parseSpace(
      Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`x${i}`, { type: "float", low: -1, high: 1 }])),
    ),
    f: (p) => Object.values(p).reduce((s: number, v) => s + (v as number) ** 2, 0),
    target: 0.3,
  },
];

function experimentsToTarget(optimizer: Optimizer, problem: Problem, seed: number, cap: number): number {
  const trials: Trial[] = [];
  for (let i = 1; i <= cap; i++) {
    const params = suggest(optimizer, problem.space, trials, { seed });
    const value = problem.f(params);
    trials.push({ params, value });
    if (value <= problem.target) return i;
  }
  return cap + 1;
}

const seeds = Array.from({ length: Number(process.env.SEEDS ?? 20) }, (_, i) => i + 1);
const cap = 400;
const median = (xs: number[]) => [...xs].sort((a, c) => a - c)[Math.floor(xs.length / 2)] as number;
console.log(
  `Experiments to reach the target, median over ${seeds.length} seeds (cap ${cap}; ">" means not reached):\n`,
);
console.log(["problem", "random", "tpe", "speed-up", "suggest time (tpe, ms/trial)"].join(" | "));
for (const problem of problems) {
  const random = seeds.map((s) => experimentsToTarget("random", problem, s, cap));
  const t0 = performance.now();
  const tpe = seeds.map((s) => experimentsToTarget("tpe", problem, s, cap));
  const perTrial = (performance.now() - t0) / tpe.reduce((a, c) => a + c, 0);
  const show = (n: number) => (n > cap ? `>${cap}` : String(n));
  console.log(
    [
      problem.name,
      show(median(random)),
      show(median(tpe)),
      `${(median(random) / median(tpe)).toFixed(1)}×`,
      perTrial.toFixed(2),
    ].join(" | "),
  );
}

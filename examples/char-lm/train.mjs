#!/usr/bin/env node
// A tiny character-level language model (an MLP over the last few characters,
// in the style of Bengio et al. 2003), trained with Adam on one CPU core in
// about 15 seconds. Plain JavaScript, no dependencies.
//
// Hyperparameters: loopy.params.json next to this file (or the file named by
// LOOPY_PARAMS_FILE; LOOPY_PARAMS as JSON wins over both). SEED overrides the seed.
// Prints JSON step lines for live curves, then a summary after "---":
//   {"step": 100, "loss": 2.41, "lr": 0.003}
//   ---
//   val_bpb: 2.512345
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadData, valBpb } from "./prepare.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const defaults = {
  learning_rate: 0.003,
  embed_dim: 8,
  hidden_size: 96,
  context: 4,
  batch_size: 32,
  weight_decay: 0.0,
  init_scale: 1.0,
  // Under Loopy, train for three quarters of the experiment's budget (the rest is start-up and
  // evaluation), like autoresearch's fixed-time runs; alone, 15 s.
  time_budget_s: process.env.LOOPY_BUDGET_MS ? (Number(process.env.LOOPY_BUDGET_MS) / 1000) * 0.75 : 15,
  max_steps: 100000,
  log_every: 50,
  seed: 1337,
};
const file = process.env.LOOPY_PARAMS_FILE ?? path.join(process.cwd(), "loopy.params.json");
const fromFile = existsSync(file)
  ? JSON.parse(readFileSync(file, "utf8"))
  : existsSync(path.join(here, "loopy.params.json"))
    ? JSON.parse(readFileSync(path.join(here, "loopy.params.json"), "utf8"))
    : {};
const fromEnv = process.env.LOOPY_PARAMS ? JSON.parse(process.env.LOOPY_PARAMS) : {};
const hp = { ...defaults, ...fromFile, ...fromEnv };
if (process.env.SEED) hp.seed = Number(process.env.SEED);
for (const key of ["embed_dim", "hidden_size", "context", "batch_size", "max_steps", "log_every"])
  hp[key] = Math.max(1, Math.round(hp[key]));

// Seeded PRNG (mulberry32) and Gaussian init.
let state = hp.seed >>> 0;
const rand = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const gauss = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());

const { vocab: V, train, val } = loadData();
const C = hp.context;
const D = hp.embed_dim;
const H = hp.hidden_size;
const IN = C * D;

function param(n, scale) {
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = gauss() * scale;
  return { w, g: new Float32Array(n), m: new Float32Array(n), v: new Float32Array(n) };
}
const E = param(V * D, 1.0 * hp.init_scale);
const W1 = param(IN * H, hp.init_scale / Math.sqrt(IN));
const b1 = param(H, 0);
const W2 = param(H * V, hp.init_scale / Math.sqrt(H));
const b2 = param(V, 0);
const params = [E, W1, b1, W2, b2];

const x = new Float32Array(IN);
const h = new Float32Array(H);
const logits = new Float32Array(V);
const probs = new Float32Array(V);

function forward(context) {
  for (let k = 0; k < C; k++) x.set(E.w.subarray(context[k] * D, context[k] * D + D), k * D);
  for (let j = 0; j < H; j++) {
    let s = b1.w[j];
    for (let i = 0; i < IN; i++) s += x[i] * W1.w[i * H + j];
    h[j] = Math.tanh(s);
  }
  let max = -Infinity;
  for (let o = 0; o < V; o++) {
    let s = b2.w[o];
    for (let j = 0; j < H; j++) s += h[j] * W2.w[j * V + o];
    logits[o] = s;
    if (s > max) max = s;
  }
  let z = 0;
  for (let o = 0; o < V; o++) z += probs[o] = Math.exp(logits[o] - max);
  for (let o = 0; o < V; o++) probs[o] /= z;
  return probs;
}

const dh = new Float32Array(H);
const dx = new Float32Array(IN);
function backward(context, target, scale) {
  // dlogits = probs - onehot
  for (let j = 0; j < H; j++) dh[j] = 0;
  for (let o = 0; o < V; o++) {
    const d = (probs[o] - (o === target ? 1 : 0)) * scale;
    b2.g[o] += d;
    for (let j = 0; j < H; j++) {
      W2.g[j * V + o] += h[j] * d;
      dh[j] += W2.w[j * V + o] * d;
    }
  }
  for (let i = 0; i < IN; i++) dx[i] = 0;
  for (let j = 0; j < H; j++) {
    const d = dh[j] * (1 - h[j] * h[j]);
    b1.g[j] += d;
    for (let i = 0; i < IN; i++) {
      W1.g[i * H + j] += x[i] * d;
      dx[i] += W1.w[i * H + j] * d;
    }
  }
  for (let k = 0; k < C; k++) for (let d = 0; d < D; d++) E.g[context[k] * D + d] += dx[k * D + d];
}

let t = 0;
function adam(lr) {
  t++;
  const b1c = 1 - 0.9 ** t;
  const b2c = 1 - 0.999 ** t;
  for (const p of params) {
    for (let i = 0; i < p.w.length; i++) {
      const g = p.g[i] + hp.weight_decay * p.w[i];
      p.m[i] = 0.9 * p.m[i] + 0.1 * g;
      p.v[i] = 0.999 * p.v[i] + 0.001 * g * g;
      p.w[i] -= (lr * (p.m[i] / b1c)) / (Math.sqrt(p.v[i] / b2c) + 1e-8);
      p.g[i] = 0;
    }
  }
}

const context = new Int32Array(C);
const started = Date.now();
let step = 0;
let running = null;
while (step < hp.max_steps && (Date.now() - started) / 1000 < hp.time_budget_s) {
  let loss = 0;
  for (let b = 0; b < hp.batch_size; b++) {
    const i = C + Math.floor(rand() * (train.length - C));
    for (let k = 0; k < C; k++) context[k] = train[i - C + k];
    const p = forward(context);
    loss += -Math.log(Math.max(p[train[i]], 1e-12));
    backward(context, train[i], 1 / hp.batch_size);
  }
  // Cosine decay over whichever limit comes first: the time budget or max_steps
  // (with max_steps binding, a seed gives the same result on any machine).
  const progress = Math.min(1, Math.max((Date.now() - started) / 1000 / hp.time_budget_s, step / hp.max_steps));
  const lr = hp.learning_rate * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
  adam(lr);
  loss /= hp.batch_size;
  running = running === null ? loss : 0.95 * running + 0.05 * loss;
  step++;
  if (!Number.isFinite(loss)) {
    console.error(`loss diverged at step ${step}`);
    process.exit(1);
  }
  if (step % hp.log_every === 0)
    console.log(JSON.stringify({ step, loss: Number(running.toFixed(4)), lr: Number(lr.toPrecision(3)) }));
}

const bpb = valBpb(val, C, (ctx) => forward(ctx));
const seconds = (Date.now() - started) / 1000;
console.log("---");
console.log(`val_bpb:          ${bpb.toFixed(6)}`);
console.log(`training_seconds: ${seconds.toFixed(1)}`);
console.log(`num_steps:        ${step}`);
console.log(`num_params:       ${params.reduce((n, p) => n + p.w.length, 0)}`);

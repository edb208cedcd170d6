// Data and evaluation for the char-lm demo. Experiments must not change this
// file (a research loop protects it by hash): it defines what val_bpb means.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The text, its alphabet, and a 90/10 train/validation split (fixed, not seeded). */
export function loadData() {
  const text = readFileSync(path.join(here, "input.txt"), "utf8").replace(/\r/g, "");
  const chars = [...new Set(text)].sort();
  const index = new Map(chars.map((c, i) => [c, i]));
  const ids = Int32Array.from(text, (c) => index.get(c));
  const split = Math.floor(ids.length * 0.9);
  return { vocab: chars.length, train: ids.subarray(0, split), val: ids.subarray(split), chars };
}

/**
 * Validation bits per byte: the mean of -log2 p(next char) over the validation
 * text (every character here is one byte). `predict(context)` returns the
 * model's probabilities for the next character given the previous ones.
 */
export function valBpb(val, contextSize, predict) {
  let bits = 0;
  let n = 0;
  const context = new Int32Array(contextSize);
  for (let i = contextSize; i < val.length; i++) {
    for (let k = 0; k < contextSize; k++) context[k] = val[i - contextSize + k];
    const p = predict(context);
    bits += -Math.log2(Math.max(p[val[i]], 1e-12));
    n++;
  }
  return bits / n;
}

import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parseStepLine, parseSummary, readObjective } from "./metrics.ts";

const run = promisify(execFile);
const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../examples/char-lm/train.mjs");

async function train(params: Record<string, unknown>, seed?: number) {
  const { stdout } = await run(process.execPath, [script], {
    env: { PATH: process.env.PATH ?? "", LOOPY_PARAMS: JSON.stringify(params), ...(seed !== undefined ? { SEED: String(seed) } : {}) },
    timeout: 30_000,
  });
  return stdout;
}

describe("the char-lm demo target", () => {
  it("streams step lines and ends with a val_bpb summary that the loop can read", async () => {
    const out = await train({ time_budget_s: 1.5, log_every: 20 });
    const steps = out.split("\n").map(parseStepLine).filter((s) => s !== null);
    expect(steps.length).toBeGreaterThan(3);
    expect(steps[0]!.values).toHaveProperty("loss");
    const bpb = readObjective(parseSummary(out), "val_bpb");
    expect(bpb.ok).toBe(true);
    // Better than a uniform guess over its alphabet (log2 of ~60 symbols ≈ 5.9 bits).
    expect(bpb.ok && bpb.value).toBeLessThan(5);
  });

  it("is reproducible for a seed and a step count", async () => {
    const params = { time_budget_s: 30, max_steps: 150, hidden_size: 32 };
    const [a, b, c] = await Promise.all([train(params, 3), train(params, 3), train(params, 4)]);
    const bpb = (out: string) => parseSummary(out).val_bpb;
    expect(bpb(a)).toBe(bpb(b));
    expect(bpb(a)).not.toBe(bpb(c));
  });
});

import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parseStepLine, parseSummary, readObjective } from "./metrics.ts";
import { DEMO_SPACE } from "./demo.ts";

const run = promisify(execFile);
const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../examples/char-lm/train.mjs");

async function train(params: Record<string, unknown>, seed?: number) {
  const { stdout } = await run(process.execPath, [script], {
    env: {
      PATH: process.env.PATH ?? "",
      LOOPY_PARAMS: JSON.stringify(params),
      ...(seed !== undefined ? { SEED: String(seed) } : {}),
    },
    timeout: 30_000,
  });
  return stdout;
}

describe("the char-lm demo target", () => {
  it("streams step lines and ends with a val_bpb summary that the loop can read", async () => {
    const out = await train({ time_budget_s: 1.5, log_every: 20 });
    const steps = out
      .split("\n")
      .map(parseStepLine)
      .filter((s) => s !== null);
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

  it("has the search space the one-click demo loop sends", () => {
    expect(JSON.parse(readFileSync(path.join(path.dirname(script), "search-space.json"), "utf8"))).toEqual(DEMO_SPACE);
  });

  it("trains for three quarters of the budget Loopy gives it", async () => {
    const { stdout } = await run(process.execPath, [script], {
      env: { PATH: process.env.PATH ?? "", LOOPY_BUDGET_MS: "2000" },
      timeout: 30_000,
    });
    expect(Number(/^training_seconds:\s+([\d.]+)/m.exec(stdout)?.[1])).toBeCloseTo(1.5, 0);
  });
});

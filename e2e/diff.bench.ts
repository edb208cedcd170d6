import { test } from "./fixtures";
import { largeDiffRun } from "./helpers";

/**
 * `npm run bench:diff`: how a 5,000-line diff opens and scrolls in Chromium.
 * Open: navigation start → first diff row painted, median of 5 loads. Scroll:
 * the diff scrolled top to bottom 240 px per animation frame (a brisk wheel),
 * with every frame's duration recorded; a frame over 50 ms is a visible stall.
 * Prints the figures; asserts nothing (timings belong here, not in tests).
 */
test("diff viewer: open and scroll a 5,000-line diff", async ({ page, baseURL }) => {
  test.setTimeout(180_000);
  const runId = largeDiffRun(baseURL!, 2_500);
  const opens: number[] = [];
  for (let i = 0; i < 5; i++) {
    await page.goto(`/runs/${runId}`);
    await page.locator('[data-testid="diff-scroller"] [data-kind]').first().waitFor();
    opens.push(await page.evaluate(() => performance.now()));
  }
  const scroll = await page.evaluate(async () => {
    const el = document.querySelector<HTMLElement>('[data-testid="diff-scroller"]')!;
    el.scrollIntoView();
    const frames: number[] = [];
    let maxRows = 0;
    let last = performance.now();
    while (el.scrollTop + el.clientHeight < el.scrollHeight - 1) {
      el.scrollTop += 240;
      await new Promise(requestAnimationFrame);
      const now = performance.now();
      frames.push(now - last);
      last = now;
      maxRows = Math.max(maxRows, el.querySelectorAll("[data-index]").length);
    }
    return { frames, maxRows, height: el.scrollHeight };
  });
  // The same scroll over 5,000 plain lines of static text (no React, no virtualisation) in the same
  // browser: what a frame costs here before the viewer does anything.
  const control = await page.evaluate(async () => {
    const el = document.createElement("div");
    el.style.cssText =
      "position:fixed;inset:0;overflow:auto;background:#0b0d12;z-index:9999;font:12px/20px monospace;white-space:pre;color:#ccc";
    el.textContent = Array.from(
      { length: 5000 },
      (_, i) => `${i}  export const value${i} = ${i} + 1; // line ${i}`,
    ).join("\n");
    document.body.appendChild(el);
    await new Promise(requestAnimationFrame);
    const frames: number[] = [];
    let last = performance.now();
    while (el.scrollTop + el.clientHeight < el.scrollHeight - 1) {
      el.scrollTop += 240;
      await new Promise(requestAnimationFrame);
      const now = performance.now();
      frames.push(now - last);
      last = now;
    }
    el.remove();
    return frames;
  });
  const controlSorted = [...control].sort((a, b) => a - b);
  const sorted = [...scroll.frames].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const figures = {
    diffLines: 5_000,
    openMedianMs: Math.round(median(opens)),
    openRunsMs: opens.map(Math.round),
    scrollFrames: scroll.frames.length,
    scrolledPx: scroll.height,
    frameP50Ms: +pct(50).toFixed(1),
    frameP95Ms: +pct(95).toFixed(1),
    frameMaxMs: +sorted.at(-1)!.toFixed(1),
    framesOver50Ms: scroll.frames.filter((f) => f > 50).length,
    maxRowsInDom: scroll.maxRows,
    staticTextFrameP50Ms: +controlSorted[Math.floor(controlSorted.length / 2)]!.toFixed(1),
    staticTextFrameP95Ms: +controlSorted[Math.floor(controlSorted.length * 0.95)]!.toFixed(1),
  };
  console.log(`\nbench:diff ${JSON.stringify(figures, null, 2)}`);
});

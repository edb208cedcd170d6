import path from "node:path";
import { test } from "./fixtures";
import { loopy, makeRepo } from "./helpers";

/**
 * `npm run bench:overview`: the home page with 1,000 active runs. A best-of-1000
 * fleet whose members print a line a second. `npm run bench:overview` sets the
 * worker's concurrency and LOOPY_MAX_RUNNING to 1,000 and waits until all of
 * them run (BENCH_RUNNING); run bare, a few run and the rest wait queued.
 * Every one is a row. Set E2E_DATABASE_URL to use a PostgreSQL database. Measures the first
 * full paint (navigation → the counters add up to 1,000), a scroll through the
 * list, and the main thread while live batches arrive for 15 s. Prints the
 * figures; asserts nothing.
 */
/** A line a second for 10 minutes without a fork per line: `read -t` on a FIFO the shell holds open is its sleep (as in bench:fleet). */
const TICKS =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, the shell expands ${TMPDIR:-/tmp}
  'f="${TMPDIR:-/tmp}/loopy-tick-$$"; mkfifo "$f"; exec 3<>"$f"; rm -f "$f"; for ((i = 1; i <= 600; i++)); do echo "tick-$i"; read -t 1 -u 3 || :; done';

test("overview: 1,000 active runs", async ({ page, baseURL }) => {
  test.setTimeout(600_000);
  const repo = makeRepo();
  const name = `overview-bench-${path.basename(repo)}`;
  if (loopy(baseURL!, "project", "add", repo, "--name", name, "--json").code !== 0)
    throw new Error("project add failed");
  const launchedAt = Date.now();
  const launched = loopy(
    baseURL!,
    "fleet",
    "launch",
    "--project",
    name,
    "--agent",
    "command",
    "--command",
    TICKS,
    "--count",
    "1000",
    "--concurrency",
    "1000",
    "--json",
  );
  if (launched.code !== 0)
    throw new Error(`fleet launch failed (${launched.code}): ${launched.stderr}${launched.stdout}`);
  const launchMs = Date.now() - launchedAt;
  const fleetId = (JSON.parse(launched.stdout) as { id: string }).id;

  // With the worker's concurrency at 1,000 (the npm script sets it), wait until every member runs and prints.
  const wantRunning = Number(process.env.BENCH_RUNNING ?? 0);
  const rampStarted = Date.now();
  if (wantRunning > 0) {
    // "running" is set when a worker claims a member; it prints once its sandbox and shell are up. Wait for every member's first tick.
    for (;;) {
      const response = await page.request.get("/api/trpc/overview.get");
      const body = (await response.json()) as {
        result: { data: { json: { runs: Array<{ activity: string | null }> } } };
      };
      const printing = body.result.data.json.runs.filter((r) => r.activity?.startsWith("tick-")).length;
      if (printing >= wantRunning) break;
      if (Date.now() - rampStarted > 400_000)
        throw new Error(`only ${printing} of ${wantRunning} members print after 400 s`);
      await page.waitForTimeout(3000);
    }
  }
  const rampMs = Date.now() - rampStarted;

  const opens: number[] = [];
  for (let i = 0; i < 3; i++) {
    await page.goto("/");
    await page.waitForFunction(
      () => {
        const total = Array.from(document.querySelectorAll('[data-testid^="count-"] div:first-child')).reduce(
          (n, el) => n + Number(el.textContent),
          0,
        );
        return total >= 1000 && document.querySelectorAll('[data-testid="overview-row"]').length > 0;
      },
      undefined,
      { timeout: 60_000 },
    );
    opens.push(await page.evaluate(() => performance.now()));
  }

  const scroll = await page.evaluate(async () => {
    const el = document.querySelector<HTMLElement>('[data-testid="overview-list"]')!;
    const frames: number[] = [];
    let maxRows = 0;
    let last = performance.now();
    while (el.scrollTop + el.clientHeight < el.scrollHeight - 1) {
      el.scrollTop += 240;
      await new Promise(requestAnimationFrame);
      const now = performance.now();
      frames.push(now - last);
      last = now;
      maxRows = Math.max(maxRows, el.querySelectorAll('[data-testid="overview-row"]').length);
    }
    el.scrollTop = 0;
    return { frames, maxRows };
  });

  // 15 s of live updates: long tasks on the main thread, and how many activity lines changed on screen.
  const live = await page.evaluate(async () => {
    const longTasks: number[] = [];
    const observer = new PerformanceObserver((list) => longTasks.push(...list.getEntries().map((e) => e.duration)));
    observer.observe({ type: "longtask", buffered: false });
    const before = new Map(
      Array.from(document.querySelectorAll('[data-testid="overview-row"]')).map((r) => [
        r.getAttribute("data-run-id"),
        r.querySelector('[data-testid="overview-activity"]')?.textContent,
      ]),
    );
    await new Promise((r) => setTimeout(r, 15_000));
    observer.disconnect();
    const changed = Array.from(document.querySelectorAll('[data-testid="overview-row"]')).filter(
      (r) =>
        before.has(r.getAttribute("data-run-id")) &&
        before.get(r.getAttribute("data-run-id")) !== r.querySelector('[data-testid="overview-activity"]')?.textContent,
    ).length;
    return { longTasks, changed };
  });
  loopy(baseURL!, "fleet", "cancel", fleetId);

  const sorted = [...scroll.frames].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  const figures = {
    activeRuns: 1000,
    running: wantRunning || "the worker's concurrency (the rest queued)",
    fleetLaunchMs: launchMs,
    rampToAllPrintingMs: wantRunning ? rampMs : null,
    openToFullCountsMs: opens.map(Math.round),
    scrollFrames: scroll.frames.length,
    frameP50Ms: +pct(50).toFixed(1),
    frameP95Ms: +pct(95).toFixed(1),
    maxRowsInDom: scroll.maxRows,
    liveWindowS: 15,
    longTasksOver50Ms: live.longTasks.length,
    longestTaskMs: Math.round(Math.max(0, ...live.longTasks)),
    rowsWhoseLineChanged: live.changed,
  };
  console.log(`\nbench:overview ${JSON.stringify(figures, null, 2)}`);
});

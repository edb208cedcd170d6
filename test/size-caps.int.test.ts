import { symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_EVENT_TEXT, RunEventWriter } from "@loopy/core/live";
import type { StoredRunEvent } from "@loopy/core/live";
import { createHarness, eventually, gitIn, makeRepo, type Harness } from "./harness.ts";

/**
 * Size caps on real runs: what a runaway agent or a huge change produces is
 * cut where it enters Loopy, the cut is said, and the server keeps answering.
 */
describe("size caps", () => {
  let h: Harness;
  let repo: string;
  let project: string;

  beforeAll(async () => {
    h = await createHarness();
    repo = await makeRepo({ "README.md": "hello\n", "notes.txt": "one\ntwo\n" });
    await symlink("/etc/passwd", path.join(repo, "passwd-link"));
    gitIn(repo, "add", "passwd-link");
    gitIn(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a symlink out of the repository");
    project = (await h.api.projects.add({ path: repo, name: `caps-${path.basename(repo)}` })).name;
    await h.startWorker();
  });
  afterAll(() => h?.close());

  const finished = (runId: string, timeoutMs = 120_000) =>
    eventually(
      async () => {
        const run = await h.api.runs.get({ runId });
        return ["succeeded", "failed", "cancelled", "awaiting_review", "needs_attention"].includes(run.status)
          ? run
          : undefined;
      },
      timeoutMs,
      `run ${runId} to finish`,
    );

  const allEvents = async (runId: string): Promise<StoredRunEvent[]> => {
    const all: StoredRunEvent[] = [];
    for (let afterId: string | null = null; ; ) {
      const page: StoredRunEvent[] = await h.api.runs.eventLog({ runId, afterId, limit: 5000 });
      all.push(...page);
      if (page.length < 5000) return all;
      afterId = page.at(-1)!.id;
    }
  };

  it("a command that prints 1 GB: its output is counted, not stored; the log says what was cut and keeps the end", async () => {
    const launched = await h.api.runs.launch({
      project,
      agent: "command",
      // 1 GiB of 38-byte lines (about 28 million), then the line a user would look for.
      command: "yes 'a runaway line of output, 38 bytes...' | head -c 1073741824; echo; echo 'the last line: 3 failed'",
    });
    // The server answers while the command floods its pipe.
    await eventually(
      async () => ((await h.api.runs.get({ runId: launched.id })).status === "running" ? true : undefined),
      30_000,
      "the run to start",
    );
    expect((await h.api.runs.get({ runId: launched.id })).id).toBe(launched.id);

    const run = await finished(launched.id);
    expect(run.exitCode).toBe(0);
    const events = await allEvents(run.id);
    const logs = events.flatMap((e) => (e.event.type === "log" ? [e.event.line] : []));
    // About 4 MB of lines kept, never the gigabyte.
    expect(logs.length).toBeGreaterThan(50_000);
    expect(logs.length).toBeLessThan(200_000);
    const note = logs.find((l) => l.startsWith("[loopy] output cut: "));
    const [, bytes, lines] =
      /^\[loopy\] output cut: [\d.]+ [MG]B \(([\d,]+) bytes\) \/ ([\d,]+) lines not stored; kept the first 4\.0 MB and the last/.exec(
        note ?? "",
      ) ?? [];
    expect(Number(bytes?.replaceAll(",", ""))).toBeGreaterThan(1_060_000_000);
    expect(Number(lines?.replaceAll(",", ""))).toBeGreaterThan(26_000_000);
    // The event log's own bound per turn (8 MB of output) cut the 4 MB of lines the process let through, and says so too.
    expect(
      logs.some((l) =>
        /^\[loopy\] output cut: [\d,]+ characters \/ [\d,]+ lines \([\d,]+ events\) not stored; over 8 MB of output this turn, the last 500 events follow$/.test(
          l,
        ),
      ),
    ).toBe(true);
    // The end of the output survives the cut: that is where a failing command's summary is.
    expect(logs.at(-1)).toBe("the last line: 3 failed");
    expect(logs.indexOf(note!)).toBeLessThan(logs.length - 1);
  }, 180_000);

  it("a 50 MB binary file and a 50 MB text change: the diff says the binary's size, is cut after whole files and names what it left out", async () => {
    const launched = await h.api.runs.launch({
      project,
      agent: "command",
      command: [
        "mkdir assets && head -c 52428800 /dev/urandom > assets/model.bin",
        "echo 'a small change' >> README.md",
        "yes 'one line of a generated fixture' | head -c 52428800 > fixture.txt",
      ].join(" && "),
    });
    const run = await finished(launched.id);
    expect(run.status).toBe("awaiting_review");
    const { diff, diffStats } = await h.api.runs.diff({ runId: run.id });
    expect(diffStats).toEqual(
      expect.arrayContaining([
        { path: "assets/model.bin", status: "added", additions: 0, deletions: 0, binary: true, bytes: 52_428_800 },
        { path: "README.md", status: "modified", additions: 1, deletions: 0, binary: false },
        expect.objectContaining({ path: "fixture.txt", status: "added", additions: 1_638_400, binary: false }),
      ]),
    );
    expect(diff).not.toBeNull();
    expect(Buffer.byteLength(diff!)).toBeLessThan(2.1 * 1024 * 1024);
    expect(diff).toContain("+a small change");
    expect(diff).toMatch(/Binary files \/dev\/null and b\/assets\/model\.bin differ \(binary file, 52428800 bytes\)/);
    expect(diff).toMatch(
      /… diff cut at 2\.0 MB: 1 file not shown \(fixture\.txt\); the full change is on the run's branch\.\n$/,
    );
    // Every file section in the stored diff is whole: none ends mid-hunk.
    expect(diff!.split(/^diff --git /m).length - 1).toBe(2);
  }, 180_000);

  it("a 10 MB event is stored cut to 256 KB with a note of how much was cut", async () => {
    const launched = await h.api.runs.launch({ project, agent: "command", command: "true" });
    await finished(launched.id);
    const writer = new RunEventWriter(
      h.services.db,
      { runEvents: async () => {}, runChanged: async () => {} },
      launched.id,
    );
    const huge = "x".repeat(10 * 1024 * 1024);
    writer.push({ type: "message", text: huge });
    writer.push({ type: "tool_result", name: "run_command", ok: true, summary: huge });
    await writer.flush();
    const events = (await allEvents(launched.id)).slice(-2).map((e) => e.event as { text?: string; summary?: string });
    for (const text of [events[0]!.text!, events[1]!.summary!]) {
      expect(text.length).toBeLessThan(MAX_EVENT_TEXT + 200);
      expect(text.startsWith("x".repeat(1000))).toBe(true);
      expect(text).toMatch(/… \[10,223,616 more characters cut from this event\]$/);
    }
  });

  it("file views read git objects only: traversal is refused and a symlink shows its target's name, not the file it points to", async () => {
    const launched = await h.api.runs.launch({ project, agent: "command", command: "echo three >> notes.txt" });
    const run = await finished(launched.id);
    const commit = run.headSha!;
    await expect(
      h.api.runs.fileLines({ runId: run.id, commit, path: "../../etc/passwd", start: 1, end: 5 }),
    ).rejects.toThrow(/inside the repository/);
    await expect(
      h.api.runs.fileLines({ runId: run.id, commit, path: "/etc/passwd", start: 1, end: 5 }),
    ).rejects.toThrow(/inside the repository|absolute/);
    // The link's own content in git is the path it points to; /etc/passwd itself is never read.
    const link = await h.api.runs.fileLines({ runId: run.id, commit, path: "passwd-link", start: 1, end: 5 });
    expect(JSON.stringify(link)).toContain("/etc/passwd");
    expect(JSON.stringify(link)).not.toContain("root:");
    // A file written into the worktree after the run's commits is not a view: only committed objects are.
    await writeFile(path.join(run.worktreePath!, "later.txt"), "not committed\n");
    await expect(h.api.runs.fileLines({ runId: run.id, commit, path: "later.txt", start: 1, end: 5 })).rejects.toThrow(
      /not a file in commit/,
    );
    const lines = await h.api.runs.fileLines({ runId: run.id, commit, path: "notes.txt", start: 1, end: 10 });
    expect(JSON.stringify(lines)).toContain("three");
  });
});

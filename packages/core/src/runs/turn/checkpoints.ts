import { newId } from "../../shared/ids.ts";
import { z } from "zod";
import { parseDuration } from "@loopy/config/duration";
import { runProcess } from "@loopy/agents/process";
import type { SandboxPolicy } from "@loopy/agents/sandbox";
import type { Db } from "@loopy/db/client";
import type { FileChange } from "../../shared/diff.ts";
import { git } from "../../shared/git.ts";
import { matchesAny } from "../../shared/glob.ts";

const name = z.string().min(1).max(64);
const required = z.boolean().default(true);

/**
 * A verification checkpoint. Declared on a project, in `loopy.json` at the
 * repository root (reviewed like code), or on a task; a later one with the same
 * name replaces an earlier one.
 */
const checkpointSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("command"),
    name,
    command: z.string().trim().min(1, "a command checkpoint needs a command"),
    timeout: z.string().default("10m"),
    /** "exit_code": exit 0 passes. "counts": also needs a "N passed, N failed" summary with no failures. */
    pass: z.enum(["exit_code", "counts"]).default("exit_code"),
    required,
  }),
  z.object({ kind: z.literal("max_changed_lines"), name, max: z.number().int().positive(), required }),
  /** Paths the agent must not create, change or delete. */
  z.object({ kind: z.literal("forbidden_paths"), name, globs: z.array(z.string().min(1)).min(1), required }),
  /** Existing files that must not change (tests, an evaluation script); new files may be added. */
  z.object({ kind: z.literal("protected_paths"), name, globs: z.array(z.string().min(1)).min(1), required }),
]);
export type Checkpoint = z.infer<typeof checkpointSchema>;
const checkpointListSchema = z.array(checkpointSchema);

/** Reads a checkpoint list, saying which entry is wrong and why. */
export function parseCheckpoints(value: unknown, where: string): Checkpoint[] {
  const parsed = checkpointListSchema.safeParse(value ?? []);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `Invalid checkpoints in ${where}: ${issue ? `${issue.path.join(".")}: ${issue.message}` : "not a list"}`,
    );
  }
  for (const c of parsed.data) {
    if (c.kind === "command") parseDuration(c.timeout);
  }
  return parsed.data;
}

/** Project checkpoints, then the repository's loopy.json at the base commit, then the task's; later names win. */
export async function resolveCheckpoints(
  repo: string,
  baseSha: string,
  project: unknown,
  task: unknown,
): Promise<Checkpoint[]> {
  const fromRepo = await git(repo, ["show", `${baseSha}:loopy.json`]).then(
    (text) => {
      let json: { checkpoints?: unknown };
      try {
        json = JSON.parse(text) as { checkpoints?: unknown };
      } catch (error) {
        throw new Error(`loopy.json at ${baseSha.slice(0, 8)} is not valid JSON: ${(error as Error).message}`);
      }
      return parseCheckpoints(json.checkpoints ?? [], "loopy.json");
    },
    () => [] as Checkpoint[],
  );
  const merged = new Map<string, Checkpoint>();
  for (const c of [...parseCheckpoints(project, "the project"), ...fromRepo, ...parseCheckpoints(task, "the task")])
    merged.set(c.name, c);
  return [...merged.values()];
}

export interface CheckpointOutcome {
  name: string;
  kind: Checkpoint["kind"];
  required: boolean;
  passed: boolean;
  durationMs: number;
  output: string;
  counts?: { passed?: number; failed?: number };
}

/** Reads "N passed" / "N failed" (vitest, jest, pytest, mocha, node --test...) from a test run's output. */
export function parseTestCounts(output: string): { passed?: number; failed?: number } | undefined {
  const last = (re: RegExp) => {
    const all = [...output.matchAll(re)];
    const m = all[all.length - 1];
    return m ? Number(m[1]) : undefined;
  };
  const passed = last(/(\d+)\s+(?:tests?\s+)?pass(?:ed|ing)?\b/gi);
  const failed = last(/(\d+)\s+(?:tests?\s+)?fail(?:ed|ing|ures?)?\b/gi);
  if (passed === undefined && failed === undefined) return undefined;
  return { ...(passed !== undefined ? { passed } : {}), ...(failed !== undefined ? { failed } : {}) };
}

const TAIL_LINES = 80;

async function runCommandCheckpoint(
  c: Extract<Checkpoint, { kind: "command" }>,
  cwd: string,
  env: Record<string, string>,
  signal?: AbortSignal,
  sandbox?: SandboxPolicy,
): Promise<CheckpointOutcome> {
  // Only the tail is stored and read, so only the tail is kept (a check printing 1 GB must not fill the worker's memory).
  const lines: string[] = [];
  let earlier = 0;
  const result = await runProcess({
    shellCommand: c.command,
    cwd,
    env,
    sandbox,
    timeoutMs: parseDuration(c.timeout),
    signal,
    maxOutputBytes: 4 * 1024 * 1024,
    onLine: (_, l) => {
      lines.push(l);
      if (lines.length > TAIL_LINES) {
        lines.shift();
        earlier++;
      }
    },
  });
  const dropped = [
    earlier ? `… ${earlier} earlier lines not kept (the last ${TAIL_LINES} follow)` : "",
    result.outputCut ?? "",
  ].filter(Boolean);
  const output = [...dropped, ...lines].join("\n");
  // Counts are for display; pass or fail is the exit code (a test *named* "2 failed" must not fail a green run).
  const counts = parseTestCounts(lines.join("\n"));
  let passed = result.exitCode === 0 && !result.timedOut;
  let head = result.timedOut
    ? `timed out after ${c.timeout}`
    : `exit code ${result.exitCode ?? `none (${result.signal})`}`;
  if (passed && c.pass === "counts") {
    if (!counts) {
      passed = false;
      head += '; no "N passed, N failed" summary found';
    } else if ((counts.failed ?? 0) > 0 || (counts.passed ?? 0) === 0) {
      passed = false;
      head += `; ${counts.passed ?? 0} passed, ${counts.failed ?? 0} failed`;
    }
  }
  return {
    name: c.name,
    kind: c.kind,
    required: c.required,
    passed,
    durationMs: result.durationMs,
    output: `$ ${c.command}\n${head}\n${output}`,
    counts,
  };
}

function runDiffRule(c: Exclude<Checkpoint, { kind: "command" }>, files: FileChange[]): CheckpointOutcome {
  const started = Date.now();
  let offending: string[] = [];
  let output: string;
  if (c.kind === "max_changed_lines") {
    const changed = files.reduce((n, f) => n + f.additions + f.deletions, 0);
    const passed = changed <= c.max;
    return {
      name: c.name,
      kind: c.kind,
      required: c.required,
      passed,
      durationMs: Date.now() - started,
      output: `${changed} changed lines (limit ${c.max})`,
    };
  }
  if (c.kind === "forbidden_paths") {
    offending = files
      .filter((f) => matchesAny(f.path, c.globs) || (f.oldPath !== undefined && matchesAny(f.oldPath, c.globs)))
      .map((f) => f.path);
    output = offending.length
      ? `Touched forbidden paths (${c.globs.join(", ")}):\n${offending.join("\n")}`
      : `No changes under ${c.globs.join(", ")}`;
  } else {
    offending = files
      .filter(
        (f) =>
          f.status !== "added" &&
          (matchesAny(f.path, c.globs) || (f.oldPath !== undefined && matchesAny(f.oldPath, c.globs))),
      )
      .map((f) => f.oldPath ?? f.path);
    output = offending.length
      ? `Changed protected files (${c.globs.join(", ")}):\n${offending.join("\n")}`
      : `Protected files unchanged (${c.globs.join(", ")})`;
  }
  return {
    name: c.name,
    kind: c.kind,
    required: c.required,
    passed: offending.length === 0,
    durationMs: Date.now() - started,
    output,
  };
}

/**
 * Runs every checkpoint in the worktree against the run's current diff, in
 * order. Commands get `env` (never the agent's secrets) and run confined by
 * `sandbox` when given.
 */
export async function runCheckpoints(
  checkpoints: Checkpoint[],
  cwd: string,
  files: FileChange[],
  env: Record<string, string> = {},
  signal?: AbortSignal,
  sandbox?: SandboxPolicy,
): Promise<CheckpointOutcome[]> {
  const results: CheckpointOutcome[] = [];
  for (const c of checkpoints) {
    results.push(
      c.kind === "command" ? await runCommandCheckpoint(c, cwd, env, signal, sandbox) : runDiffRule(c, files),
    );
  }
  return results;
}

/** Stores a turn's checkpoint results. */
export async function saveCheckpointResults(
  db: Db,
  runId: string,
  turnIndex: number,
  results: CheckpointOutcome[],
): Promise<void> {
  if (results.length === 0) return;
  await db.checkpointResult.createMany({
    data: results.map((r) => ({
      id: newId(),
      runId,
      turnIndex,
      name: r.name,
      kind: r.kind,
      required: r.required,
      passed: r.passed,
      durationMs: r.durationMs,
      output: r.output,
      counts: r.counts ?? undefined,
    })),
  });
}

/** The follow-up that sends failing checkpoints back to the agent. */
export function checkpointFeedback(failed: CheckpointOutcome[]): string {
  const parts = failed.map((r) => `### ${r.name} (${r.kind}) failed\n\`\`\`\n${r.output}\n\`\`\``);
  return [
    "Loopy ran the project's checkpoints after your last turn. These failed:",
    "",
    ...parts,
    "",
    "Fix the problems in the worktree, then finish again.",
  ].join("\n");
}

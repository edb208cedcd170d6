import { spawn } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import { childEnv } from "./child-env.ts";
import { confine, type SandboxPolicy } from "./sandbox.ts";
import { OutputCap } from "./output-cap.ts";

export interface ProcessOptions {
  /** Run through `bash -c`; the usual way for user-written commands. */
  shellCommand?: string;
  /** Or run a program directly with arguments (no shell): agent CLIs. */
  argv?: [string, ...string[]];
  cwd: string;
  env?: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called for every complete output line (and a final unterminated one). */
  onLine: (stream: "stdout" | "stderr", line: string) => void;
  /** Time between SIGTERM and SIGKILL for the process group. */
  killGraceMs?: number;
  /** Lines longer than this are cut, so one runaway line cannot flood the event log. */
  maxLineLength?: number;
  /**
   * Output (both streams) past this many bytes is counted, not split into lines; the last
   * 64 KiB of each stream and one line saying what was cut are given at the end (see `OutputCap`).
   */
  maxOutputBytes?: number;
  /** Replace the minimal inherited environment entirely (still merged with `env`; Loopy's own settings are dropped either way, see `childEnv`). */
  baseEnv?: Record<string, string>;
  /** Called once the process exists, with its pid (also its process group id). */
  onSpawn?: (pid: number) => void;
  /** Confine the process (bubblewrap), see `confine`; none when absent. */
  sandbox?: SandboxPolicy;
}

export interface ProcessResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
  pid: number | undefined;
  /** When `maxOutputBytes` cut the output: the line that says what was not kept. */
  outputCut?: string;
}

/**
 * Runs a shell command in its own process group and streams its output line by
 * line. On timeout or abort the whole group (the command and every child it
 * started) gets SIGTERM, then SIGKILL after a grace period, so nothing outlives
 * the run. With `sandbox`, it runs inside bubblewrap (see `confine`); the
 * group is still bwrap's, so the kill reaches everything inside it. Resolves
 * once the process and its output streams have closed.
 */
export async function runProcess(options: ProcessOptions): Promise<ProcessResult> {
  const started = Date.now();
  const maxLine = options.maxLineLength ?? 16_384;
  const grace = options.killGraceMs ?? 2_000;
  const confined = await confine(
    options.sandbox,
    options.cwd,
    options.argv ?? ["bash", "-c", options.shellCommand ?? "true"],
  );
  try {
    return await spawnAndWait(options, confined.argv, confined.env, started, maxLine, grace);
  } finally {
    await confined.close();
  }
}

function spawnAndWait(
  options: ProcessOptions,
  argv: [string, ...string[]],
  confinedEnv: Record<string, string>,
  started: number,
  maxLine: number,
  grace: number,
): Promise<ProcessResult> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      resolve({ exitCode: null, signal: null, timedOut: false, cancelled: true, durationMs: 0, pid: undefined });
      return;
    }
    const child = spawn(file, args, {
      cwd: options.cwd,
      // Cast: Next's types make NODE_ENV mandatory in ProcessEnv; a child does not need it.
      env: childEnv({ ...options.env, ...confinedEnv }, options.baseEnv) as NodeJS.ProcessEnv,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    let timedOut = false;
    let cancelled = false;
    let killTimer: NodeJS.Timeout | undefined;

    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // The group is already gone.
      }
    };
    const stop = () => {
      killGroup("SIGTERM");
      killTimer ??= setTimeout(() => killGroup("SIGKILL"), grace);
    };
    const timeout = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeoutMs);
    const onAbort = () => {
      cancelled = true;
      stop();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });

    const pending = { stdout: "", stderr: "" };
    // Decoders keep a multi-byte character that straddles two chunks whole.
    const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
    const cap = options.maxOutputBytes === undefined ? null : new OutputCap(options.maxOutputBytes);
    const feed = (stream: "stdout" | "stderr", whole: Buffer) => {
      const chunk = cap ? cap.take(stream, whole) : whole;
      if (chunk.length === 0) return;
      const text = pending[stream] + decoders[stream].write(chunk);
      const lines = text.split("\n");
      pending[stream] = lines.pop() ?? "";
      for (const line of lines) options.onLine(stream, cut(line.replace(/\r$/, ""), maxLine));
      if (pending[stream].length > maxLine) {
        options.onLine(stream, cut(pending[stream], maxLine));
        pending[stream] = "";
      }
    };
    child.stdout.on("data", (c: Buffer) => feed("stdout", c));
    child.stderr.on("data", (c: Buffer) => feed("stderr", c));
    child.on("error", (error) => {
      clearTimeout(timeout);
      reject(error);
    });
    let settled = false;
    let drainTimer: NodeJS.Timeout | undefined;
    const finish = (code: number | null, sig: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      clearTimeout(drainTimer);
      options.signal?.removeEventListener("abort", onAbort);
      for (const stream of ["stdout", "stderr"] as const) {
        const rest = pending[stream] + decoders[stream].end();
        if (rest) options.onLine(stream, cut(rest, maxLine));
      }
      const cutOutput = cap?.finish();
      if (cutOutput) {
        options.onLine("stderr", cutOutput.note);
        for (const tail of cutOutput.tails)
          for (const line of tail.lines) options.onLine(tail.stream, cut(line, maxLine));
      }
      // The command is done; anything it left in its group (a server started with &) goes too.
      killGroup("SIGKILL");
      if (killTimer) clearTimeout(killTimer);
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({
        exitCode: code,
        signal: sig,
        timedOut,
        cancelled,
        durationMs: Date.now() - started,
        pid: child.pid,
        ...(cutOutput ? { outputCut: cutOutput.note } : {}),
      });
    };
    // "close" waits for every holder of stdout/stderr, which a backgrounded child may keep
    // open forever; after "exit", give the pipes a moment to drain, then finish.
    child.on("exit", (code, sig) => {
      drainTimer = setTimeout(() => finish(code, sig), 250);
    });
    child.on("close", (code, sig) => finish(code, sig));
  });
}

function cut(line: string, max: number): string {
  return line.length > max ? `${line.slice(0, max)}… [${line.length - max} more characters cut]` : line;
}

/** A small, predictable environment: enough to find tools, nothing of Loopy's own secrets. */
export function inheritedEnv(): Record<string, string> {
  return childEnv();
}

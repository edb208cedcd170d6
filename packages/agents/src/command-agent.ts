import type { AgentAdapter } from "./adapter.ts";
import { runProcess } from "./process.ts";
import { formatDuration } from "@loopy/config/duration";

/**
 * A command's output kept as log events, at most: past it the output is
 * counted, its last 64 KiB per stream kept, and one line says what was cut,
 * so a command printing 1 GB neither floods the event log nor the worker.
 */
const MAX_COMMAND_OUTPUT_BYTES = 4 * 1024 * 1024;

/**
 * The `command` agent: runs a shell command (a codemod, `sed`, a script) in the
 * worktree. Its output lines become `log` events.
 */
export const commandAgent: AgentAdapter = {
  name: "command",
  label: "Shell command",
  takes: "command",
  resumable: false,
  unavailable: async () => null,
  async run(input, emit) {
    const result = await runProcess({
      shellCommand: input.instruction,
      cwd: input.cwd,
      env: input.env,
      sandbox: input.sandbox,
      timeoutMs: input.timeoutMs,
      signal: input.signal,
      maxOutputBytes: MAX_COMMAND_OUTPUT_BYTES,
      onLine: (stream, line) => emit({ type: "log", stream, line }),
    });
    emit({ type: "command", command: input.instruction, exitCode: result.exitCode });
    const ok = !result.timedOut && !result.cancelled && result.exitCode === 0;
    const why = typeof input.signal?.reason === "string" ? input.signal.reason : "cancelled by a user";
    const reason = result.cancelled
      ? `${why}; the command's process group was killed`
      : result.timedOut
        ? `timed out after ${formatDuration(input.timeoutMs)}; the command's process group was killed`
        : result.exitCode !== 0
          ? result.exitCode === null
            ? `command was killed by ${result.signal ?? "a signal"}`
            : `command exited with code ${result.exitCode}`
          : undefined;
    const outcome = { ok, exitCode: result.exitCode, timedOut: result.timedOut, cancelled: result.cancelled, reason };
    emit({
      type: "outcome",
      ok,
      exitCode: result.exitCode,
      timedOut: result.timedOut,
      cancelled: result.cancelled,
      summary: reason,
    });
    return outcome;
  },
};

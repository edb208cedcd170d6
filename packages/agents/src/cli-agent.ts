import { formatDuration } from "@loopy/config/duration";
import type { AgentOutcome, AgentRunInput, EmitAgentEvent } from "./adapter.ts";
import { findExecutable } from "./executables.ts";
import { inheritedEnv, runProcess, type ProcessResult } from "./process.ts";

/**
 * Runs an agent CLI that prints one JSON object per line (stream-json, JSONL),
 * handing each object to `onJson`; other stdout and all stderr become log
 * events. The CLI runs in its own process group with `HOME` pointed at the
 * run's private state folder, so sessions, config and trust state stay apart.
 */
export async function runJsonCli(
  input: AgentRunInput,
  argv: [string, ...string[]],
  env: Record<string, string>,
  emit: EmitAgentEvent,
  onJson: (value: Record<string, unknown>) => void,
): Promise<ProcessResult> {
  const base = inheritedEnv();
  if (input.stateDir) base.HOME = input.stateDir;
  return runProcess({
    argv,
    cwd: input.cwd,
    baseEnv: base,
    env: { ...env, ...input.env },
    sandbox: input.sandbox,
    timeoutMs: input.timeoutMs,
    signal: input.signal,
    maxLineLength: 1_000_000,
    // A CLI's stdout is its event stream, so its bound is generous; past it the last 64 KiB (its final result event) is still read.
    maxOutputBytes: 256 * 1024 * 1024,
    onLine: (stream, line) => {
      if (stream === "stdout" && line.startsWith("{")) {
        try {
          onJson(JSON.parse(line) as Record<string, unknown>);
          return;
        } catch {
          // not JSON after all: keep it as a log line
        }
      }
      if (line.trim()) emit({ type: "log", stream, line: line.length > 4000 ? `${line.slice(0, 4000)}…` : line });
    },
  });
}

/** Finding an agent CLI, and the message that says how to install it when it is missing. */
export function cliBinary(command: string, label: string, npmPackage: string) {
  const missing = `${label} is not installed: the "${command}" command was not found (npm install -g ${npmPackage}, or npm run agents:install in the Loopy repository)`;
  return {
    unavailable: async (input: Pick<AgentRunInput, "binDirs">) =>
      (await findExecutable(command, input.binDirs)) ? null : missing,
    resolve: async (input: Pick<AgentRunInput, "binDirs">) => {
      const bin = await findExecutable(command, input.binDirs);
      if (!bin) throw new Error(missing);
      return bin;
    },
  };
}

export type CliSaid = { error?: string; sessionId?: string; usage?: AgentOutcome["usage"]; needsAttention?: string };

/** Ends a CLI turn: the outcome from the process result and what the events said, also emitted as an event. */
export function finishCliTurn(
  input: AgentRunInput,
  result: ProcessResult,
  said: CliSaid,
  emit: EmitAgentEvent,
): AgentOutcome {
  const outcome = cliOutcome(input, result, said);
  emit({
    type: "outcome",
    ok: outcome.ok,
    exitCode: outcome.exitCode,
    timedOut: outcome.timedOut,
    cancelled: outcome.cancelled,
    summary: outcome.reason,
  });
  return outcome;
}

/** The outcome of a CLI turn from its process result and what its events said. */
function cliOutcome(input: AgentRunInput, result: ProcessResult, said: CliSaid): AgentOutcome {
  const why = typeof input.signal?.reason === "string" ? input.signal.reason : "cancelled by a user";
  const reason = result.cancelled
    ? `${why}; the agent's process group was killed`
    : result.timedOut
      ? `timed out after ${formatDuration(input.timeoutMs)}; the agent's process group was killed`
      : said.error
        ? said.error
        : result.exitCode !== 0
          ? `the agent exited with code ${result.exitCode ?? result.signal}`
          : said.needsAttention;
  const ok = !result.cancelled && !result.timedOut && !said.error && result.exitCode === 0;
  return {
    ok,
    exitCode: result.exitCode,
    timedOut: result.timedOut,
    cancelled: result.cancelled,
    reason,
    sessionId: said.sessionId,
    usage: said.usage,
    needsAttention: said.needsAttention,
  };
}

/** A short one-line summary of a tool input for the event log. */
export function summarize(value: unknown, max = 160): string {
  let text: string;
  if (typeof value === "string") text = value;
  else if (value && typeof value === "object") {
    const v = value as Record<string, unknown>;
    const first = v.command ?? v.file_path ?? v.filePath ?? v.path ?? v.pattern ?? v.url ?? v.description;
    text = typeof first === "string" ? first : JSON.stringify(value);
  } else text = String(value);
  text = text.replace(/\s+/g, " ").trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

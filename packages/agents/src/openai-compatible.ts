import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { readRegularFile, SAFE_NAME, writeRegularFile } from "./safe-files.ts";
import path from "node:path";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, hasToolCall, stepCountIs, tool, type ModelMessage } from "ai";
import { z } from "zod";
import { formatDuration } from "@loopy/config/duration";
import {
  profileSecretNames,
  type AgentAdapter,
  type AgentOutcome,
  type AgentRunInput,
  type EmitAgentEvent,
} from "./adapter.ts";
import { summarize } from "./cli-agent.ts";
import { Workspace } from "./workspace-tools.ts";

const SYSTEM = (cwd: string) =>
  [
    "You are a coding agent working in a git worktree. Make the change the user asks for, using the tools.",
    "Paths are relative to the worktree. Keep changes focused; run the project's checks with run_command when useful.",
    "Call finish with a one-paragraph summary when the change is complete.",
    `Worktree: ${cwd}`,
  ].join("\n");

/**
 * Loopy's own tool-using agent over any OpenAI-compatible Chat Completions
 * endpoint (OpenAI, vLLM, Ollama, llama.cpp server, LM Studio), on the Vercel
 * AI SDK. Its session (the message history) is a JSON file in the run's state
 * folder, so a follow-up continues the same conversation.
 */
export const openAICompatibleAgent: AgentAdapter = {
  name: "openai-compatible",
  label: "OpenAI-compatible endpoint",
  takes: "prompt",
  resumable: true,
  async unavailable(input) {
    if (!input.profile?.baseUrl)
      return "This agent needs a base URL (the profile's baseUrl, e.g. http://127.0.0.1:11434/v1 for Ollama)";
    if (!input.profile?.model) return "This agent needs a model name (the profile's model)";
    return null;
  },
  async run(input, emit) {
    const missing = await openAICompatibleAgent.unavailable(input);
    if (missing) throw new Error(missing);
    const profile = input.profile!;
    const { stateDir, sessionId, sessionFile, history } = await loadSession(input);
    emit({ type: "session", id: sessionId });

    const apiKey = profileSecretNames(profile)
      .map((n) => input.env?.[n])
      .find(Boolean);
    const provider = createOpenAICompatible({ name: "loopy", baseURL: profile.baseUrl!, apiKey, includeUsage: true });
    const ws = new Workspace(input.cwd, { env: input.env, sandbox: input.sandbox });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort("timeout"), input.timeoutMs);
    const onAbort = () => controller.abort("cancelled");
    input.signal?.addEventListener("abort", onAbort, { once: true });
    // A cancel that came before the turn started never fires "abort" again.
    if (input.signal?.aborted) onAbort();

    const tools = workspaceTools(ws, emit, controller.signal);
    const messages: ModelMessage[] = [...history, { role: "user", content: input.instruction }];
    let outcome: AgentOutcome;
    try {
      const result = await generateText({
        model: provider(profile.model!),
        system: SYSTEM(input.cwd),
        messages,
        tools,
        stopWhen: [stepCountIs(profile.maxTurns ?? 30), hasToolCall("finish")],
        abortSignal: controller.signal,
        maxRetries: 0,
        onStepFinish: (step) => {
          if (step.text.trim()) emit({ type: "message", text: step.text });
        },
      });
      await writeRegularFile(stateDir, sessionFile, JSON.stringify([...messages, ...result.response.messages]));
      outcome = finishedOutcome(result, sessionId, profile.maxTurns ?? 30, emit);
    } catch (error) {
      outcome = failedOutcome(error, controller.signal.reason, input);
      emit({ type: "error", message: outcome.reason! });
    } finally {
      clearTimeout(timer);
      input.signal?.removeEventListener("abort", onAbort);
    }
    emit({
      type: "outcome",
      ok: outcome.ok,
      exitCode: outcome.exitCode,
      timedOut: outcome.timedOut,
      cancelled: outcome.cancelled,
      summary: outcome.reason,
    });
    return outcome;
  },
};

/** The session's state folder and file, and its saved history when the turn continues one. */
async function loadSession(input: AgentRunInput) {
  const stateDir = input.stateDir ?? path.join(input.cwd, "..", ".loopy-agent");
  await mkdir(stateDir, { recursive: true });
  const sessionId = input.sessionId ?? randomUUID();
  if (!SAFE_NAME.test(sessionId)) throw new Error(`Not a session id: ${sessionId.slice(0, 40)}`);
  const sessionFile = path.join(stateDir, `session-${sessionId}.json`);
  // The state folder is writable by the agent's confined tools: never follow what they left there.
  const history: ModelMessage[] = input.sessionId
    ? (JSON.parse(
        (await readRegularFile(stateDir, sessionFile, 64 * 1024 * 1024))?.toString("utf8") || "[]",
      ) as ModelMessage[])
    : [];
  if (input.sessionId && history.length === 0)
    throw new Error(`Session ${input.sessionId} has no saved history; cannot continue it`);
  return { stateDir, sessionId, sessionFile, history };
}

/** The agent's tools over the worktree: each call and its result is emitted as an event; a failure is the tool's answer, not a throw. */
function workspaceTools(ws: Workspace, emit: EmitAgentEvent, signal: AbortSignal) {
  const traced = <T>(name: string, args: unknown, fn: () => Promise<T>, show: (v: T) => string) => {
    const id = randomUUID();
    emit({ type: "tool_call", id, name, summary: summarize(args) });
    return fn().then(
      (value) => {
        emit({ type: "tool_result", id, name, ok: true, summary: summarize(show(value), 300) });
        return value;
      },
      (error: Error) => {
        emit({ type: "tool_result", id, name, ok: false, summary: error.message });
        return `Error: ${error.message}` as T;
      },
    );
  };

  return {
    list_files: tool({
      description: "List files under a folder of the worktree (3 levels deep).",
      inputSchema: z.object({ path: z.string().default(".") }),
      execute: (a) =>
        traced(
          "list_files",
          a,
          () => ws.list(a.path),
          (v) => `${v.split("\n").length} entries`,
        ),
    }),
    read_file: tool({
      description: "Read a text file of the worktree.",
      inputSchema: z.object({ path: z.string() }),
      execute: (a) =>
        traced(
          "read_file",
          a,
          () => ws.read(a.path),
          (v) => `${v.length} characters`,
        ),
    }),
    write_file: tool({
      description: "Create or overwrite a file of the worktree.",
      inputSchema: z.object({ path: z.string(), content: z.string() }),
      execute: (a) =>
        traced(
          "write_file",
          a,
          async () => {
            const kind = await ws.write(a.path, a.content);
            emit({ type: "file_edit", path: a.path, kind });
            return `${kind === "create" ? "Created" : "Wrote"} ${a.path}`;
          },
          (v) => v,
        ),
    }),
    edit_file: tool({
      description: "Replace one exact, unique occurrence of old_text with new_text in a file.",
      inputSchema: z.object({ path: z.string(), old_text: z.string(), new_text: z.string() }),
      execute: (a) =>
        traced(
          "edit_file",
          a,
          async () => {
            await ws.edit(a.path, a.old_text, a.new_text);
            emit({ type: "file_edit", path: a.path, kind: "modify" });
            return `Edited ${a.path}`;
          },
          (v) => v,
        ),
    }),
    run_command: tool({
      description: "Run a shell command in the worktree (2 minute limit). Returns exit code and output.",
      inputSchema: z.object({ command: z.string() }),
      execute: (a) =>
        traced(
          "run_command",
          a,
          async () => {
            const r = await ws.run(a.command, 120_000, signal);
            emit({ type: "command", command: a.command, exitCode: r.exitCode });
            return `exit code ${r.exitCode ?? "none (killed)"}${r.timedOut ? " (timed out)" : ""}\n${r.output}`;
          },
          (v) => v.split("\n")[0] ?? "",
        ),
    }),
    remember: tool({
      description: "Add a note to the project's shared memory (conventions, learnings, what failed) for future agents.",
      inputSchema: z.object({ note: z.string().min(1) }),
      execute: (a) =>
        traced(
          "remember",
          a,
          async () => {
            await ws.append("LOOPY_NOTES.md", `${a.note.trim()}\n`);
            return "Noted for future agents.";
          },
          (v) => v,
        ),
    }),
    finish: tool({
      description: "End the turn with a summary of what was changed.",
      inputSchema: z.object({ summary: z.string() }),
      execute: async (a) => {
        emit({ type: "message", text: a.summary });
        return "ok";
      },
    }),
  };
}

type GenerateResult = Awaited<ReturnType<typeof generateText<ReturnType<typeof workspaceTools>>>>;

/** The outcome of a model loop that returned: finished when it called `finish` or stopped on its own, not when it ran out of steps. */
function finishedOutcome(
  result: GenerateResult,
  sessionId: string,
  maxTurns: number,
  emit: EmitAgentEvent,
): AgentOutcome {
  const usage = {
    inputTokens: result.totalUsage.inputTokens ?? 0,
    outputTokens: result.totalUsage.outputTokens ?? 0,
  };
  emit({ type: "usage", ...usage });
  const finished =
    result.steps.some((s) => s.toolCalls.some((c) => c.toolName === "finish")) || result.finishReason === "stop";
  return {
    ok: finished,
    exitCode: 0,
    timedOut: false,
    cancelled: false,
    sessionId,
    usage,
    reason: finished
      ? undefined
      : `the agent stopped after ${result.steps.length} steps without finishing (max turns ${maxTurns})`,
  };
}

/** The outcome of a model loop that threw: cancelled, timed out (by `abortReason`), or a failed model call. */
function failedOutcome(error: unknown, abortReason: unknown, input: AgentRunInput): AgentOutcome {
  const cancelled = abortReason === "cancelled";
  const timedOut = abortReason === "timeout";
  const why = typeof input.signal?.reason === "string" ? input.signal.reason : "cancelled by a user";
  return {
    ok: false,
    exitCode: null,
    timedOut,
    cancelled,
    sessionId: input.sessionId ?? undefined,
    reason: cancelled
      ? why
      : timedOut
        ? `timed out after ${formatDuration(input.timeoutMs)}`
        : `model call failed: ${(error as Error).message}`,
  };
}

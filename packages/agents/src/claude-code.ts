import path from "node:path";
import type { AgentAdapter } from "./adapter.ts";
import { readRegularFile, SAFE_NAME, writeRegularFile } from "./safe-files.ts";
import { cliBinary, finishCliTurn, runJsonCli, summarize, type CliSaid } from "./cli-agent.ts";

const EDIT_TOOLS = new Set(["Write", "Edit", "MultiEdit", "NotebookEdit"]);

/**
 * Claude Code, headless: `claude -p --output-format stream-json --verbose`.
 * Writes are allowed with `--permission-mode acceptEdits` (without it, -p mode
 * silently denies them and reports only `permission_denials`, which we turn
 * into needs-attention). Follow-ups use `--resume <session_id>`.
 */
const binary = cliBinary("claude", "Claude Code", "@anthropic-ai/claude-code");

export const claudeCodeAgent: AgentAdapter = {
  name: "claude-code",
  label: "Claude Code",
  takes: "prompt",
  resumable: true,
  modelEndpoint: {
    defaultUrl: "https://api.anthropic.com",
    keyName: (names) => names.find((n) => n === "ANTHROPIC_API_KEY" || n === "ANTHROPIC_AUTH_TOKEN"),
  },
  unavailable: (input) => binary.unavailable(input),
  async run(input, emit) {
    const bin = await binary.resolve(input);
    const profile = input.profile ?? {};
    const argv: [string, ...string[]] = [
      bin,
      "-p",
      "--output-format",
      "stream-json",
      "--verbose",
      "--permission-mode",
      "acceptEdits",
    ];
    if (profile.model) argv.push("--model", profile.model);
    if (profile.maxTurns) argv.push("--max-turns", String(profile.maxTurns));
    if (profile.budgetUsd) argv.push("--max-budget-usd", String(profile.budgetUsd));
    if (input.sessionId) argv.push("--resume", input.sessionId);
    // "--" ends the options: a prompt that starts with "-" (a markdown list) stays a prompt.
    argv.push("--", input.instruction);
    const env: Record<string, string> = {
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_TELEMETRY: "1",
      DISABLE_AUTOUPDATER: "1",
      DISABLE_ERROR_REPORTING: "1",
    };
    if (profile.baseUrl) env.ANTHROPIC_BASE_URL = profile.baseUrl;

    const said: CliSaid = {};
    const toolCalls = new Map<string, { name: string; input: Record<string, unknown> }>();
    const costFile = (session: string) =>
      path.join(input.stateDir ?? path.join(input.cwd, ".."), `claude-cost-${session}.json`);
    // The state folder is the agent's HOME, writable inside its sandbox: read and write it without following what it left there.
    const stateRoot = input.stateDir ?? path.join(input.cwd, "..");
    const previousCost =
      input.sessionId && SAFE_NAME.test(input.sessionId)
        ? Number((await readRegularFile(stateRoot, costFile(input.sessionId), 64))?.toString("utf8") ?? "0") || 0
        : 0;
    let sessionCost: number | undefined;
    const result = await runJsonCli(input, argv, env, emit, (json) => {
      const type = json.type;
      if (type === "system" && json.subtype === "init" && typeof json.session_id === "string") {
        said.sessionId = json.session_id;
        emit({ type: "session", id: json.session_id });
        return;
      }
      if (type === "assistant") {
        const content = ((json.message as { content?: unknown[] })?.content ?? []) as Array<Record<string, unknown>>;
        for (const block of content) {
          if (block.type === "text" && typeof block.text === "string" && block.text.trim())
            emit({ type: "message", text: block.text });
          if (block.type === "tool_use") {
            const name = String(block.name);
            toolCalls.set(String(block.id), { name, input: (block.input ?? {}) as Record<string, unknown> });
            emit({ type: "tool_call", id: String(block.id), name, summary: summarize(block.input) });
            if (name === "Bash")
              emit({
                type: "command",
                command: summarize((block.input as { command?: string })?.command ?? "", 400),
                exitCode: null,
              });
          }
        }
        return;
      }
      if (type === "user") {
        const content = ((json.message as { content?: unknown[] })?.content ?? []) as Array<Record<string, unknown>>;
        for (const block of content) {
          if (block.type !== "tool_result") continue;
          const id = String(block.tool_use_id);
          const text = typeof block.content === "string" ? block.content : JSON.stringify(block.content ?? "");
          const call = toolCalls.get(id);
          const ok = block.is_error !== true;
          emit({ type: "tool_result", id, name: call?.name, ok, summary: summarize(text, 300) });
          const file = call?.input.file_path ?? call?.input.notebook_path;
          if (ok && call && EDIT_TOOLS.has(call.name) && typeof file === "string") {
            const created = (json.tool_use_result as { type?: string } | undefined)?.type === "create";
            emit({
              type: "file_edit",
              path: path.relative(input.cwd, file) || file,
              kind: created ? "create" : "modify",
            });
          }
        }
        return;
      }
      if (type === "result") {
        const usage = (json.usage ?? {}) as Record<string, number>;
        const inputTokens =
          (usage.input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
        const outputTokens = usage.output_tokens ?? 0;
        // total_cost_usd counts the whole session (resumed turns included), while usage
        // is this invocation's; the turn's cost is the difference from the last total.
        if (typeof json.total_cost_usd === "number") sessionCost = json.total_cost_usd;
        said.usage = { inputTokens, outputTokens };
        if (typeof json.session_id === "string") said.sessionId = json.session_id;
        const denials = (json.permission_denials ?? []) as Array<{ tool_name?: string; tool_input?: unknown }>;
        if (denials.length > 0) {
          said.needsAttention = `Claude Code was denied permission for ${denials.map((d) => `${d.tool_name}(${summarize(d.tool_input, 60)})`).join(", ")}`;
          emit({ type: "error", message: said.needsAttention });
        }
        if (json.is_error === true) {
          said.error =
            json.subtype === "error_max_turns"
              ? `Claude Code stopped at its turn limit (${profile.maxTurns ?? "?"} turns)`
              : `Claude Code failed: ${summarize(json.result ?? json.subtype, 300)}`;
          emit({ type: "error", message: said.error });
        } else if (typeof json.result === "string" && json.result.trim()) {
          // The final message already arrived as an assistant text block.
        }
      }
    });
    if (said.usage) {
      if (sessionCost !== undefined) {
        said.usage.costUsd = Math.max(0, sessionCost - previousCost);
        if (said.sessionId && SAFE_NAME.test(said.sessionId) && input.stateDir)
          await writeRegularFile(input.stateDir, costFile(said.sessionId), String(sessionCost));
      }
      emit({ type: "usage", ...said.usage });
    }
    return finishCliTurn(input, result, said, emit);
  },
};

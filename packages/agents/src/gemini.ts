import { mkdir } from "node:fs/promises";
import { writeRegularFile } from "./safe-files.ts";
import path from "node:path";
import { profileSecretNames, type AgentAdapter } from "./adapter.ts";
import { cliBinary, finishCliTurn, runJsonCli, summarize, type CliSaid } from "./cli-agent.ts";

const EDITS: Record<string, "create" | "modify"> = { write_file: "create", replace: "modify", edit: "modify" };

/**
 * Gemini CLI, headless: `gemini -p --output-format stream-json --approval-mode yolo`.
 * It needs API-key auth selected in settings.json (a private HOME holds it)
 * and a trusted workspace. Follow-ups: `--resume <session_id>`.
 */
const binary = cliBinary("gemini", "Gemini CLI", "@google/gemini-cli");

export const geminiAgent: AgentAdapter = {
  name: "gemini",
  label: "Gemini CLI",
  takes: "prompt",
  resumable: true,
  modelEndpoint: {
    defaultUrl: "https://generativelanguage.googleapis.com",
    keyName: (names) => names.find((n) => /GEMINI|GOOGLE/.test(n)),
  },
  unavailable: (input) => binary.unavailable(input),
  async run(input, emit) {
    const bin = await binary.resolve(input);
    const profile = input.profile ?? {};
    const home = input.stateDir ?? path.join(input.cwd, "..", ".loopy-agent");
    await mkdir(home, { recursive: true });
    await writeRegularFile(
      home,
      path.join(home, ".gemini", "settings.json"),
      JSON.stringify({ security: { auth: { selectedType: "gemini-api-key" } } }),
    );
    // --prompt=<text>: a prompt that starts with "-" must not be read as an option.
    const argv: [string, ...string[]] = [
      bin,
      `--prompt=${input.instruction}`,
      "--output-format",
      "stream-json",
      "--approval-mode",
      "yolo",
    ];
    if (profile.model) argv.push("-m", profile.model);
    if (input.sessionId) argv.push("--resume", input.sessionId);
    const env: Record<string, string> = { GEMINI_CLI_TRUST_WORKSPACE: "true" };
    if (profile.baseUrl) env.GOOGLE_GEMINI_BASE_URL = profile.baseUrl;
    const keyName = profileSecretNames(profile).find((n) => /GEMINI|GOOGLE/.test(n));
    if (keyName && input.env?.[keyName]) env.GEMINI_API_KEY = input.env[keyName];

    const said: CliSaid = { sessionId: input.sessionId ?? undefined };
    const tools = new Map<string, { name: string; params: Record<string, unknown> }>();
    let text = "";
    const flushText = () => {
      if (text.trim()) emit({ type: "message", text });
      text = "";
    };
    const result = await runJsonCli(input, argv, env, emit, (json) => {
      switch (json.type) {
        case "init":
          if (typeof json.session_id === "string") {
            said.sessionId = json.session_id;
            emit({ type: "session", id: json.session_id });
          }
          return;
        case "message":
          if (json.role === "assistant" && typeof json.content === "string") text += json.content;
          return;
        case "tool_use": {
          flushText();
          const name = String(json.tool_name);
          const params = (json.parameters ?? {}) as Record<string, unknown>;
          tools.set(String(json.tool_id), { name, params });
          emit({ type: "tool_call", id: String(json.tool_id), name, summary: summarize(params) });
          return;
        }
        case "tool_result": {
          const call = tools.get(String(json.tool_id));
          const ok = json.status === "success";
          emit({
            type: "tool_result",
            id: String(json.tool_id),
            name: call?.name,
            ok,
            summary: summarize(json.output ?? json.error ?? json.status, 300),
          });
          if (ok && call && EDITS[call.name] && typeof call.params.file_path === "string") {
            const file = call.params.file_path;
            emit({
              type: "file_edit",
              path: path.isAbsolute(file) ? path.relative(input.cwd, file) : file,
              kind: EDITS[call.name]!,
            });
          }
          if (call?.name === "run_shell_command")
            emit({ type: "command", command: summarize(call.params.command, 400), exitCode: ok ? 0 : null });
          return;
        }
        case "result": {
          flushText();
          const stats = (json.stats ?? {}) as Record<string, number>;
          said.usage = { inputTokens: stats.input_tokens ?? 0, outputTokens: stats.output_tokens ?? 0 };
          emit({ type: "usage", ...said.usage });
          if (json.status !== "success") said.error = `Gemini CLI failed: ${summarize(json.error ?? json.status, 300)}`;
          return;
        }
        case "error":
          emit({ type: "error", message: summarize(json.message ?? json, 300) });
      }
    });
    flushText();
    return finishCliTurn(input, result, said, emit);
  },
};

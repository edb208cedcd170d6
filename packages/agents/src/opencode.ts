import { mkdir } from "node:fs/promises";
import { writeRegularFile } from "./safe-files.ts";
import path from "node:path";
import { profileSecretNames, type AgentAdapter } from "./adapter.ts";
import { cliBinary, finishCliTurn, runJsonCli, summarize, type CliSaid } from "./cli-agent.ts";

/**
 * opencode, headless: `opencode run --format json`. Its config (provider, model,
 * permissions) goes in the run's private state folder through OPENCODE_CONFIG,
 * never in the worktree. A profile with a base URL gets an OpenAI-compatible
 * provider named "loopy". Follow-ups: `-s <sessionID>`.
 */
const binary = cliBinary("opencode", "opencode", "opencode-ai");

export const opencodeAgent: AgentAdapter = {
  name: "opencode",
  label: "opencode",
  takes: "prompt",
  resumable: true,
  // Without a base URL opencode picks its provider from its own configuration: only a profile base URL goes through the gateway.
  modelEndpoint: {},
  unavailable: (input) => binary.unavailable(input),
  async run(input, emit) {
    const bin = await binary.resolve(input);
    const profile = input.profile ?? {};
    const home = input.stateDir ?? path.join(input.cwd, "..", ".loopy-agent");
    await mkdir(home, { recursive: true });
    const keyName = profileSecretNames(profile)[0];
    const config: Record<string, unknown> = {
      permission: { edit: "allow", bash: "allow", webfetch: "deny" },
      autoupdate: false,
      share: "disabled",
    };
    let model = profile.model;
    if (profile.baseUrl) {
      const options: Record<string, string> = { baseURL: profile.baseUrl };
      if (keyName) options.apiKey = `{env:${keyName}}`;
      config.provider = {
        loopy: {
          npm: "@ai-sdk/openai-compatible",
          options,
          models: { [profile.model ?? "default"]: { tool_call: true } },
        },
      };
      model = `loopy/${profile.model ?? "default"}`;
    }
    if (model) config.model = model;
    const configFile = path.join(home, "opencode.json");
    await writeRegularFile(home, configFile, JSON.stringify(config, null, 2));
    const argv: [string, ...string[]] = [bin, "run", "--format", "json"];
    if (model) argv.push("-m", model);
    if (input.sessionId) argv.push("-s", input.sessionId);
    argv.push("--", input.instruction);
    const env: Record<string, string> = {
      OPENCODE_CONFIG: configFile,
      OPENCODE_DISABLE_MODELS_FETCH: "1",
      OPENCODE_DISABLE_AUTOUPDATE: "1",
      OPENCODE_DISABLE_LSP_DOWNLOAD: "1",
      OPENCODE_DISABLE_SHARE: "1",
      OPENCODE_DISABLE_DEFAULT_PLUGINS: "1",
    };

    const said: CliSaid = { sessionId: input.sessionId ?? undefined };
    const usage = { inputTokens: 0, outputTokens: 0, costUsd: 0 };
    const result = await runJsonCli(input, argv, env, emit, (json) => {
      if (typeof json.sessionID === "string" && said.sessionId !== json.sessionID) {
        said.sessionId = json.sessionID;
        emit({ type: "session", id: json.sessionID });
      }
      const part = (json.part ?? {}) as Record<string, unknown>;
      if (json.type === "text" && typeof part.text === "string" && part.text.trim())
        emit({ type: "message", text: part.text });
      if (json.type === "tool_use") {
        const name = String(part.tool);
        const state = (part.state ?? {}) as {
          status?: string;
          input?: Record<string, unknown>;
          output?: string;
          error?: string;
          metadata?: Record<string, unknown>;
        };
        const id = String(part.callID ?? part.id);
        emit({ type: "tool_call", id, name, summary: summarize(state.input ?? {}) });
        const ok = state.status === "completed";
        emit({
          type: "tool_result",
          id,
          name,
          ok,
          summary: summarize(state.output ?? state.error ?? state.status, 300),
        });
        const file = state.input?.filePath;
        if (ok && (name === "write" || name === "edit") && typeof file === "string") {
          emit({
            type: "file_edit",
            path: path.relative(input.cwd, file) || file,
            kind: name === "write" && state.metadata?.exists === false ? "create" : "modify",
          });
        }
        if (name === "bash")
          emit({
            type: "command",
            command: summarize(state.input?.command, 400),
            exitCode: typeof state.metadata?.exit === "number" ? state.metadata.exit : null,
          });
      }
      if (json.type === "step_finish") {
        const tokens = (part.tokens ?? {}) as { input?: number; output?: number };
        usage.inputTokens += tokens.input ?? 0;
        usage.outputTokens += tokens.output ?? 0;
        usage.costUsd += typeof part.cost === "number" ? part.cost : 0;
      }
      if (json.type === "error") {
        said.error = `opencode failed: ${summarize((json.error as { data?: { message?: string } } | undefined)?.data?.message ?? json.error ?? json, 300)}`;
      }
    });
    said.usage = {
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      ...(usage.costUsd ? { costUsd: usage.costUsd } : {}),
    };
    emit({ type: "usage", ...said.usage });
    return finishCliTurn(input, result, said, emit);
  },
};

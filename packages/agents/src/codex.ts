import { makeFolder, readRegularFile, SAFE_NAME, writeRegularFile } from "./safe-files.ts";
import path from "node:path";
import { sandboxStatus } from "./sandbox.ts";
import { profileSecretNames, type AgentAdapter } from "./adapter.ts";
import { cliBinary, finishCliTurn, runJsonCli, summarize, type CliSaid } from "./cli-agent.ts";

const KIND = { add: "create", update: "modify", delete: "delete" } as const;

/**
 * Codex CLI, headless: `codex exec --json --sandbox workspace-write`. A profile
 * with a base URL gets a custom provider in its own CODEX_HOME (Codex ignores
 * OPENAI_BASE_URL). Follow-ups: `codex exec resume <thread>`, which starts
 * read-only unless the sandbox is set again. Usage in `turn.completed` is
 * cumulative per thread, so the turn's share is the difference.
 */
const binary = cliBinary("codex", "Codex CLI", "@openai/codex");

export const codexAgent: AgentAdapter = {
  name: "codex",
  label: "Codex CLI",
  takes: "prompt",
  resumable: true,
  modelEndpoint: { defaultUrl: "https://api.openai.com/v1" },
  unavailable: (input) => binary.unavailable(input),
  async run(input, emit) {
    const bin = await binary.resolve(input);
    const profile = input.profile ?? {};
    const state = input.stateDir ?? path.join(input.cwd, "..", ".loopy-agent");
    const codexHome = path.join(state, "codex");
    // Codex refuses to set up its helper executables (which its own sandbox runs apply_patch
    // through) when CODEX_HOME is inside the temporary folder, and its file edits then fail
    // wherever bubblewrap is installed. The state folder may well be under /tmp, so Codex gets a
    // temporary folder of its own, beside CODEX_HOME rather than around it.
    const codexTmp = path.join(state, "tmp");
    // Both inside the state folder, which the agent can write: created without following what it may have left there.
    await makeFolder(state, codexHome);
    await makeFolder(state, codexTmp);
    const keyName = profileSecretNames(profile)[0] ?? "OPENAI_API_KEY";
    if (profile.baseUrl) {
      await writeRegularFile(
        state,
        path.join(codexHome, "config.toml"),
        `model_provider = "loopy"\n\n[model_providers.loopy]\nname = "loopy"\nbase_url = ${JSON.stringify(profile.baseUrl)}\nenv_key = ${JSON.stringify(keyName)}\nwire_api = "responses"\n`,
      );
    }
    const model = profile.model ? ["-m", profile.model] : [];
    // Inside Loopy's bubblewrap, Codex's own sandbox (bubblewrap again, nested, without
    // capabilities) cannot start and every edit fails; Loopy's confines it there instead.
    const confined = input.sandbox !== undefined && input.sandbox.mode !== "off" && (await sandboxStatus()).ok;
    const mode = confined ? "danger-full-access" : "workspace-write";
    const argv: [string, ...string[]] = input.sessionId
      ? [
          bin,
          "exec",
          "resume",
          "--json",
          "--skip-git-repo-check",
          ...model,
          "-c",
          `sandbox_mode="${mode}"`,
          "--",
          input.sessionId,
          input.instruction,
        ]
      : [bin, "exec", "--json", "--sandbox", mode, "--skip-git-repo-check", ...model, "--", input.instruction];
    const usageFile = (thread: string) => path.join(state, `codex-usage-${thread}.json`);
    const previous =
      input.sessionId && SAFE_NAME.test(input.sessionId)
        ? (JSON.parse((await readRegularFile(state, usageFile(input.sessionId), 4096))?.toString("utf8") || "{}") as {
            input?: number;
            output?: number;
          })
        : {};

    const said: CliSaid = { sessionId: input.sessionId ?? undefined };
    let cumulative: { input: number; output: number } | undefined;
    const result = await runJsonCli(input, argv, { CODEX_HOME: codexHome, TMPDIR: codexTmp }, emit, (json) => {
      if (json.type === "thread.started" && typeof json.thread_id === "string") {
        said.sessionId = json.thread_id;
        emit({ type: "session", id: json.thread_id });
      }
      if (json.type === "item.started" || json.type === "item.completed") {
        const item = json.item as Record<string, unknown>;
        if (item.type === "file_change" && json.type === "item.completed") {
          for (const change of (item.changes ?? []) as Array<{ path: string; kind: keyof typeof KIND }>) {
            emit({
              type: "file_edit",
              path: path.relative(input.cwd, change.path) || change.path,
              kind: KIND[change.kind] ?? "modify",
            });
          }
        }
        if (item.type === "command_execution") {
          if (json.type === "item.started")
            emit({ type: "tool_call", id: String(item.id), name: "shell", summary: summarize(item.command) });
          else
            emit({
              type: "command",
              command: summarize(item.command, 400),
              exitCode: typeof item.exit_code === "number" ? item.exit_code : null,
            });
        }
        if (item.type === "agent_message" && typeof item.text === "string") emit({ type: "message", text: item.text });
        if (item.type === "error" && typeof item.message === "string")
          emit({ type: "log", stream: "stderr", line: item.message });
      }
      if (json.type === "turn.completed") {
        const u = (json.usage ?? {}) as Record<string, number>;
        cumulative = { input: u.input_tokens ?? 0, output: u.output_tokens ?? 0 };
      }
      if (json.type === "turn.failed" || json.type === "error") {
        const message =
          (json.error as { message?: string } | undefined)?.message ?? (json.message as string | undefined);
        if (message && json.type === "turn.failed") said.error = `Codex failed: ${message}`;
      }
    });
    if (cumulative) {
      const usage = {
        inputTokens: Math.max(0, cumulative.input - (previous.input ?? 0)),
        outputTokens: Math.max(0, cumulative.output - (previous.output ?? 0)),
      };
      said.usage = usage;
      emit({ type: "usage", ...usage });
      if (said.sessionId && SAFE_NAME.test(said.sessionId))
        await writeRegularFile(state, usageFile(said.sessionId), JSON.stringify(cumulative));
    }
    return finishCliTurn(input, result, said, emit);
  },
};

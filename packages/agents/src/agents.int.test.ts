import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeModelServer, type FakeModelServer } from "@loopy/fake-models/server";
import type { AgentEvent } from "./events.ts";
import type { AgentAdapter, AgentRunInput } from "./adapter.ts";
import { claudeCodeAgent } from "./claude-code.ts";
import { openAICompatibleAgent } from "./openai-compatible.ts";
import { codexAgent } from "./codex.ts";
import { geminiAgent } from "./gemini.ts";
import { opencodeAgent } from "./opencode.ts";
import { sandboxStatus } from "./sandbox.ts";
import { withModelGateway } from "./model-gateway.ts";

/** Where `npm run agents:install` (and CI) put the pinned agent CLIs. */
const BIN_DIRS = [
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../tools/agent-clis/node_modules/.bin"),
];
const hasClaude = existsSync(path.join(BIN_DIRS[0]!, "claude"));
const installed = (bin: string) => existsSync(path.join(BIN_DIRS[0]!, bin));

async function repo(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "loopy-agent-"));
  await writeFile(path.join(dir, "greeting.txt"), "hello world\n");
  execFileSync("git", ["init", "-q"], { cwd: dir });
  return dir;
}

/** Whether bubblewrap runs here (the sandboxed Codex case needs it). */
const bwrapWorks = await sandboxStatus().then((s) => s.ok);

async function turn(agent: AgentAdapter, input: Omit<AgentRunInput, "timeoutMs">) {
  const events: AgentEvent[] = [];
  // As core does for every turn: sandboxed, the model is reached through the egress gateway (a no-op otherwise).
  const outcome = await agent.run(
    await withModelGateway(agent, { timeoutMs: 60_000, binDirs: BIN_DIRS, ...input }),
    (e) => events.push(e),
  );
  return { outcome, events };
}

describe("agent adapters against fake model servers (real clients, fake wire)", () => {
  let server: FakeModelServer;
  beforeAll(async () => {
    server = await startFakeModelServer({ usage: { input: 200, output: 40 } });
  });
  afterAll(() => server?.close());

  describe.skipIf(!hasClaude)("claude-code (the real Claude Code CLI)", () => {
    it("edits files, reports events, usage and cost, and continues the same session", async () => {
      const cwd = await repo();
      const stateDir = await mkdtemp(path.join(tmpdir(), "loopy-claude-home-"));
      const profile = { model: "claude-sonnet-4-5", baseUrl: server.url, maxTurns: 10 };
      const env = { ANTHROPIC_API_KEY: "dummy", CLAUDE_CODE_MAX_RETRIES: "0" };
      const first = await turn(claudeCodeAgent, {
        cwd,
        stateDir,
        profile,
        env,
        instruction:
          "- add a file and fix the greeting\n@write notes.txt: written by claude\n@edit greeting.txt: world => loopy\n@say Both done",
      });
      expect(first.outcome).toMatchObject({ ok: true, exitCode: 0 });
      expect(await readFile(path.join(cwd, "notes.txt"), "utf8")).toBe("written by claude\n");
      expect(await readFile(path.join(cwd, "greeting.txt"), "utf8")).toBe("hello loopy\n");
      const types = first.events.map((e) => e.type);
      expect(types).toContain("session");
      expect(first.events).toContainEqual(expect.objectContaining({ type: "tool_call", name: "Write" }));
      expect(first.events).toContainEqual({ type: "file_edit", path: "notes.txt", kind: "create" });
      expect(first.events).toContainEqual({ type: "file_edit", path: "greeting.txt", kind: "modify" });
      expect(first.events).toContainEqual({ type: "message", text: "Both done" });
      // 4 model calls (Write, Read, Edit, final text) × 200 in / 40 out at Sonnet prices ($3/$15 per Mtok).
      const usage = first.events.find((e) => e.type === "usage");
      expect(usage).toEqual({ type: "usage", inputTokens: 800, outputTokens: 160, costUsd: expect.closeTo(0.0048, 6) });
      const sessionId = first.outcome.sessionId!;
      expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);

      const before = server.requests.length;
      const second = await turn(claudeCodeAgent, {
        cwd,
        stateDir,
        profile,
        env,
        sessionId,
        instruction: "One more.\n@write notes.txt: second turn",
      });
      expect(second.outcome).toMatchObject({ ok: true, sessionId });
      expect(await readFile(path.join(cwd, "notes.txt"), "utf8")).toBe("second turn\n");
      // Cost is per turn: two model calls, although Claude Code reports the session's running total.
      expect(second.outcome.usage).toEqual({ inputTokens: 400, outputTokens: 80, costUsd: expect.closeTo(0.0024, 6) });
      // The resumed request carried the first turn's history.
      const resumed = server.requests.slice(before).find((r) => r.url.startsWith("/v1/messages"))!.body as {
        messages: unknown[];
      };
      expect(JSON.stringify(resumed.messages)).toContain("written by claude");
    });

    it("fails with a clear reason when the model endpoint is down", async () => {
      const { outcome } = await turn(claudeCodeAgent, {
        cwd: await repo(),
        stateDir: await mkdtemp(path.join(tmpdir(), "loopy-claude-home-")),
        profile: { model: "claude-sonnet-4-5", baseUrl: "http://127.0.0.1:9" },
        env: { ANTHROPIC_API_KEY: "dummy", CLAUDE_CODE_MAX_RETRIES: "0" },
        instruction: "@write x.txt: never",
      });
      expect(outcome.ok).toBe(false);
      expect(outcome.reason).toMatch(/Claude Code failed|exited with code/);
    });
  });

  /** The same scenario for each CLI: write + edit + a command, then a follow-up in the same session. */
  const CLIS: Array<{
    agent: AgentAdapter;
    bin: string;
    profile: () => AgentRunInput["profile"];
    env: Record<string, string>;
    sandboxed?: boolean;
  }> = [
    {
      agent: codexAgent,
      bin: "codex",
      profile: () => ({ model: "gpt-5.5", baseUrl: `${server.url}/v1` }),
      env: { OPENAI_API_KEY: "dummy" },
    },
    // Inside Loopy's bubblewrap (the default where it works) Codex's own sandbox cannot nest: the adapter leaves confinement to Loopy's.
    {
      agent: codexAgent,
      bin: "codex",
      profile: () => ({ model: "gpt-5.5", baseUrl: `${server.url}/v1`, secretNames: ["OPENAI_API_KEY"] }),
      env: { OPENAI_API_KEY: "dummy-key-for-the-gateway" },
      sandboxed: true,
    },
    {
      agent: geminiAgent,
      bin: "gemini",
      profile: () => ({ model: "gemini-2.5-flash", baseUrl: server.url, secretNames: ["GEMINI_API_KEY"] }),
      env: { GEMINI_API_KEY: "dummy" },
    },
    {
      agent: opencodeAgent,
      bin: "opencode",
      profile: () => ({ model: "fake-model", baseUrl: `${server.url}/v1` }),
      env: {},
    },
  ];
  for (const cli of CLIS) {
    describe.skipIf(!installed(cli.bin) || (cli.sandboxed && !bwrapWorks))(
      `${cli.agent.name} (the real CLI${cli.sandboxed ? ", in Loopy's sandbox" : ""})`,
      () => {
        it("edits files, reports events and usage, and continues the same session", async () => {
          const cwd = await repo();
          const stateDir = await mkdtemp(path.join(tmpdir(), `loopy-${cli.bin}-state-`));
          // As a run's turn: its own network, the model reached through the egress gateway (which holds the key).
          const sandbox: Pick<AgentRunInput, "sandbox"> = cli.sandboxed
            ? {
                sandbox: {
                  mode: "on",
                  writable: [stateDir],
                  network: { socketRoot: path.join(stateDir, "..", "egress") },
                },
              }
            : {};
          const first = await turn(cli.agent, {
            cwd,
            stateDir,
            ...sandbox,
            profile: cli.profile(),
            env: cli.env,
            // A prompt that starts with "-" must reach the model as a prompt, not as an option.
            instruction:
              "- make two changes\n@write notes.txt: written by the agent\n@edit greeting.txt: world => loopy\n@run echo from-the-agent\n@say All done",
          });
          expect(first.outcome, first.outcome.reason).toMatchObject({ ok: true, exitCode: 0 });
          expect(await readFile(path.join(cwd, "notes.txt"), "utf8")).toBe("written by the agent\n");
          expect(await readFile(path.join(cwd, "greeting.txt"), "utf8")).toBe("hello loopy\n");
          expect(first.events.some((e) => e.type === "session")).toBe(true);
          expect(first.events).toContainEqual(expect.objectContaining({ type: "file_edit", path: "greeting.txt" }));
          expect(first.events).toContainEqual(
            expect.objectContaining({ type: "command", command: expect.stringContaining("echo from-the-agent") }),
          );
          expect(first.events.some((e) => e.type === "message" && e.text.includes("All done"))).toBe(true);
          expect(first.outcome.usage?.inputTokens).toBeGreaterThan(0);
          // In the sandbox the CLI held a placeholder; the gateway sent the key.
          if (cli.sandboxed)
            expect(server.requests.at(-1)?.headers.authorization).toBe("Bearer dummy-key-for-the-gateway");
          const sessionId = first.outcome.sessionId!;
          expect(sessionId).toBeTruthy();

          const before = server.requests.length;
          const second = await turn(cli.agent, {
            cwd,
            stateDir,
            ...sandbox,
            profile: cli.profile(),
            env: cli.env,
            sessionId,
            instruction: "Again.\n@write notes.txt: second turn",
          });
          expect(second.outcome, second.outcome.reason).toMatchObject({ ok: true, sessionId });
          expect(await readFile(path.join(cwd, "notes.txt"), "utf8")).toBe("second turn\n");
          // The follow-up carried the first turn's history to the model.
          expect(JSON.stringify(server.requests.slice(before).map((r) => r.body))).toContain("written by the agent");
          // Usage is per turn, not cumulative.
          expect(second.outcome.usage!.inputTokens).toBeLessThan(first.outcome.usage!.inputTokens);
        });
      },
    );
  }

  it("says how to install a CLI that is missing", async () => {
    const saved = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      expect(await claudeCodeAgent.unavailable({ binDirs: ["/nonexistent"] })).toMatch(/Claude Code is not installed/);
    } finally {
      process.env.PATH = saved;
    }
  });

  describe("openai-compatible (Loopy's agent on the AI SDK)", () => {
    const profile = () => ({ model: "fake-model", baseUrl: `${server.url}/v1`, maxTurns: 10 });

    it("writes, edits and runs commands inside the worktree, and continues the session", async () => {
      const cwd = await repo();
      const stateDir = await mkdtemp(path.join(tmpdir(), "loopy-oai-state-"));
      const first = await turn(openAICompatibleAgent, {
        cwd,
        stateDir,
        profile: profile(),
        instruction:
          "Do it.\n@write src/new.ts: export const x = 1;\n@edit greeting.txt: world => there\n@run cat greeting.txt\n@say Finished the work",
      });
      // Four model calls (write, edit, run, finish) × 200 in / 40 out.
      expect(first.outcome).toMatchObject({ ok: true, usage: { inputTokens: 800, outputTokens: 160 } });
      expect(await readFile(path.join(cwd, "src/new.ts"), "utf8")).toBe("export const x = 1;\n");
      expect(await readFile(path.join(cwd, "greeting.txt"), "utf8")).toBe("hello there\n");
      expect(first.events).toContainEqual({ type: "command", command: "cat greeting.txt", exitCode: 0 });
      expect(first.events).toContainEqual({ type: "file_edit", path: "src/new.ts", kind: "create" });
      expect(first.events).toContainEqual({ type: "message", text: "Finished the work" });

      const second = await turn(openAICompatibleAgent, {
        cwd,
        stateDir,
        profile: profile(),
        sessionId: first.outcome.sessionId,
        instruction: "@write greeting.txt: again",
      });
      expect(second.outcome).toMatchObject({ ok: true, sessionId: first.outcome.sessionId });
      expect(await readFile(path.join(cwd, "greeting.txt"), "utf8")).toBe("again\n");
      const last = server.requests.filter((r) => r.url.endsWith("/chat/completions")).at(-1)!.body as {
        messages: Array<{ role: string }>;
      };
      expect(last.messages.filter((m) => m.role === "user")).toHaveLength(2);
    });

    it("refuses paths outside the worktree", async () => {
      const cwd = await repo();
      const outside = path.join(path.dirname(cwd), `escape-${path.basename(cwd)}.txt`);
      const { outcome, events } = await turn(openAICompatibleAgent, {
        cwd,
        stateDir: await mkdtemp(path.join(tmpdir(), "loopy-oai-state-")),
        profile: profile(),
        instruction: `@write ../escape-${path.basename(cwd)}.txt: gotcha`,
      });
      expect(outcome.ok).toBe(true);
      expect(existsSync(outside)).toBe(false);
      expect(events).toContainEqual(
        expect.objectContaining({
          type: "tool_result",
          ok: false,
          summary: expect.stringMatching(/outside the worktree/),
        }),
      );
    });

    it("cannot continue a session it never saved", async () => {
      await expect(
        turn(openAICompatibleAgent, {
          cwd: await repo(),
          stateDir: await mkdtemp(path.join(tmpdir(), "s-")),
          profile: profile(),
          sessionId: "nope",
          instruction: "hi",
        }),
      ).rejects.toThrow(/no saved history/);
    });
  });
});

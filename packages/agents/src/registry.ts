import type { AgentAdapter } from "./adapter.ts";
import { claudeCodeAgent } from "./claude-code.ts";
import { codexAgent } from "./codex.ts";
import { commandAgent } from "./command-agent.ts";
import { geminiAgent } from "./gemini.ts";
import { opencodeAgent } from "./opencode.ts";
import { openAICompatibleAgent } from "./openai-compatible.ts";

const adapters = new Map<string, AgentAdapter>(
  [commandAgent, claudeCodeAgent, codexAgent, geminiAgent, opencodeAgent, openAICompatibleAgent].map((a) => [
    a.name,
    a,
  ]),
);

/** Names of every agent adapter this build of Loopy knows. */
export function agentNames(): string[] {
  return [...adapters.keys()];
}

/** The adapter for `name`, or undefined when Loopy has none by that name. */
export function findAgent(name: string): AgentAdapter | undefined {
  return adapters.get(name);
}

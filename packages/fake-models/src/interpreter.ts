import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Step } from "./script.ts";

/**
 * The script interpreter: a script's steps as the tool calls each agent's own
 * tools expect, and the helpers the protocols share to find the prompts and the
 * working directory in a conversation.
 */

export interface Call {
  name: string;
  input: Record<string, unknown>;
}

export type Provider = "anthropic" | "chat" | "responses" | "gemini";

/** Maps script steps to the tool calls a given agent's tools expect. */
export function callsFor(steps: Step[], tools: string[], provider: Provider, cwd: string | undefined): Call[] {
  const has = (name: string) => tools.includes(name);
  const abs = (p: string) => (path.isAbsolute(p) || !cwd ? p : path.join(cwd, p));
  const calls: Call[] = [];
  for (const step of steps) {
    if (provider === "anthropic") {
      if (step.op === "write")
        calls.push({ name: "Write", input: { file_path: abs(step.path), content: step.content } });
      if (step.op === "edit") {
        calls.push({ name: "Read", input: { file_path: abs(step.path) } });
        calls.push({ name: "Edit", input: { file_path: abs(step.path), old_string: step.old, new_string: step.new } });
      }
      if (step.op === "run")
        calls.push({ name: "Bash", input: { command: step.command, description: "run a command" } });
      continue;
    }
    if (provider === "responses") {
      // Codex: apply_patch for new files and line edits, exec_command for the rest.
      const file = abs("path" in step ? step.path : "");
      if (step.op === "write") {
        if (has("apply_patch") && !existsSync(file)) {
          calls.push({
            name: "apply_patch",
            input: {
              patch: `*** Begin Patch\n*** Add File: ${step.path}\n${step.content
                .replace(/\n$/, "")
                .split("\n")
                .map((l) => `+${l}`)
                .join("\n")}\n*** End Patch\n`,
            },
          });
        } else {
          calls.push({
            name: "exec_command",
            input: { cmd: `cat > '${step.path}' <<'LOOPY_EOF'\n${step.content}LOOPY_EOF` },
          });
        }
      }
      if (step.op === "edit") {
        const lines = existsSync(file) ? readFileSync(file, "utf8").split("\n") : [];
        const line = lines.find((l) => l.includes(step.old));
        if (line !== undefined && has("apply_patch")) {
          calls.push({
            name: "apply_patch",
            input: {
              patch: `*** Begin Patch\n*** Update File: ${step.path}\n@@\n-${line}\n+${line.replace(step.old, step.new)}\n*** End Patch\n`,
            },
          });
        } else {
          calls.push({ name: "exec_command", input: { cmd: `sed -i 's/${step.old}/${step.new}/' '${step.path}'` } });
        }
      }
      if (step.op === "run") calls.push({ name: "exec_command", input: { cmd: step.command } });
      continue;
    }
    if (provider === "gemini") {
      if (step.op === "write")
        calls.push({ name: "write_file", input: { file_path: abs(step.path), content: step.content } });
      if (step.op === "edit")
        calls.push({
          name: "replace",
          input: { file_path: abs(step.path), old_string: step.old, new_string: step.new, instruction: "edit" },
        });
      if (step.op === "run")
        calls.push({ name: "run_shell_command", input: { command: step.command, description: "run a command" } });
      continue;
    }
    if (has("write_file")) {
      // Loopy's own agent.
      if (step.op === "write") calls.push({ name: "write_file", input: { path: step.path, content: step.content } });
      if (step.op === "edit")
        calls.push({ name: "edit_file", input: { path: step.path, old_text: step.old, new_text: step.new } });
      if (step.op === "run") calls.push({ name: "run_command", input: { command: step.command } });
    } else if (has("write")) {
      // opencode.
      if (step.op === "write")
        calls.push({ name: "write", input: { filePath: abs(step.path), content: step.content } });
      if (step.op === "edit") {
        calls.push({ name: "read", input: { filePath: abs(step.path) } });
        calls.push({ name: "edit", input: { filePath: abs(step.path), oldString: step.old, newString: step.new } });
      }
      if (step.op === "run")
        calls.push({ name: "bash", input: { command: step.command, description: "run a command" } });
    }
  }
  return calls;
}

export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part: { type?: string; text?: string }) =>
        part.type === "text" || part.type === "input_text" ? (part.text ?? "") : "",
      )
      .join("\n");
  }
  return "";
}

export function findCwd(texts: string[]): string | undefined {
  for (const text of texts) {
    const m =
      /(?:Working directory|working directory|cwd|Worktree|directory):\s*(\/[^\s"'<>]+)/.exec(text) ??
      /<cwd>(\/[^<]+)<\/cwd>/.exec(text);
    if (m) return m[1];
  }
  return undefined;
}

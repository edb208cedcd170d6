import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import path from "node:path";
import { scriptFor, type Step } from "./script.ts";

/**
 * A fake model server speaking the Anthropic Messages API (Claude Code) and the
 * OpenAI Chat Completions API (Loopy's openai-compatible agent, opencode, any
 * OpenAI-compatible client), streaming and not. Replies follow the script in
 * the conversation (see script.ts): the step is the number of tool results
 * after the latest prompt, so resumed sessions need no server state.
 */
export interface FakeModelServer {
  url: string;
  port: number;
  /** Every request received, for assertions. */
  requests: Array<{ method: string; url: string; body: unknown }>;
  close(): Promise<void>;
}

export interface FakeModelOptions {
  port?: number;
  /** Token counts reported for every model call. */
  usage?: { input: number; output: number };
}

interface Call {
  name: string;
  input: Record<string, unknown>;
}

type Provider = "anthropic" | "chat";

/** Maps script steps to the tool calls a given agent's tools expect. */
function callsFor(steps: Step[], tools: string[], provider: Provider, cwd: string | undefined): Call[] {
  const has = (name: string) => tools.includes(name);
  const abs = (p: string) => (path.isAbsolute(p) || !cwd ? p : path.join(cwd, p));
  const calls: Call[] = [];
  for (const step of steps) {
    if (provider === "anthropic") {
      if (step.op === "write") calls.push({ name: "Write", input: { file_path: abs(step.path), content: step.content } });
      if (step.op === "edit") {
        calls.push({ name: "Read", input: { file_path: abs(step.path) } });
        calls.push({ name: "Edit", input: { file_path: abs(step.path), old_string: step.old, new_string: step.new } });
      }
      if (step.op === "run") calls.push({ name: "Bash", input: { command: step.command, description: "run a command" } });
      continue;
    }
    if (has("write_file")) {
      // Loopy's own agent.
      if (step.op === "write") calls.push({ name: "write_file", input: { path: step.path, content: step.content } });
      if (step.op === "edit") calls.push({ name: "edit_file", input: { path: step.path, old_text: step.old, new_text: step.new } });
      if (step.op === "run") calls.push({ name: "run_command", input: { command: step.command } });
    } else if (has("write")) {
      // opencode.
      if (step.op === "write") calls.push({ name: "write", input: { filePath: abs(step.path), content: step.content } });
      if (step.op === "edit") {
        calls.push({ name: "read", input: { filePath: abs(step.path) } });
        calls.push({ name: "edit", input: { filePath: abs(step.path), oldString: step.old, newString: step.new } });
      }
      if (step.op === "run") calls.push({ name: "bash", input: { command: step.command, description: "run a command" } });
    }
  }
  return calls;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part: { type?: string; text?: string }) => (part.type === "text" || part.type === "input_text" ? (part.text ?? "") : ""))
      .join("\n");
  }
  return "";
}

function findCwd(texts: string[]): string | undefined {
  for (const text of texts) {
    const m = /(?:Working directory|working directory|cwd|Worktree):\s*(\/[^\s"'<>]+)/.exec(text);
    if (m) return m[1];
  }
  return undefined;
}

// ---------- Anthropic Messages ----------

interface AnthropicBody {
  model?: string;
  stream?: boolean;
  system?: unknown;
  tools?: Array<{ name: string }>;
  messages: Array<{ role: string; content: unknown }>;
}

function anthropicReply(body: AnthropicBody): { blocks: Array<Record<string, unknown>>; stop: string } {
  const tools = (body.tools ?? []).map((t) => t.name);
  if (tools.length === 0) return { blocks: [{ type: "text", text: "Fake title" }], stop: "end_turn" };
  const isPrompt = (m: { role: string; content: unknown }) =>
    m.role === "user" && !(Array.isArray(m.content) && m.content.some((b: { type?: string }) => b.type === "tool_result"));
  const promptIndexes = body.messages.map((m, i) => (isPrompt(m) ? i : -1)).filter((i) => i >= 0);
  const last = promptIndexes[promptIndexes.length - 1] ?? 0;
  const step = body.messages
    .slice(last + 1)
    .flatMap((m) => (Array.isArray(m.content) ? m.content : []))
    .filter((b: { type?: string }) => b.type === "tool_result").length;
  const prompts = promptIndexes.map((i) => textOf(body.messages[i]?.content));
  const script = scriptFor(prompts);
  const systemText = typeof body.system === "string" ? body.system : textOf(body.system);
  const calls = callsFor(script.steps, tools, "anthropic", findCwd([systemText, ...prompts]));
  const call = calls[step];
  if (!call) return { blocks: [{ type: "text", text: `${script.say}` }], stop: "end_turn" };
  return { blocks: [{ type: "tool_use", id: `toolu_fake_${Date.now()}_${step}`, name: call.name, input: call.input }], stop: "tool_use" };
}

function sendAnthropic(res: ServerResponse, body: AnthropicBody, usage: { input: number; output: number }) {
  const { blocks, stop } = anthropicReply(body);
  const id = `msg_fake_${Date.now()}`;
  const model = body.model ?? "claude-fake";
  if (!body.stream) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id, type: "message", role: "assistant", model, content: blocks, stop_reason: stop, stop_sequence: null, usage: { input_tokens: usage.input, output_tokens: usage.output } }));
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  send("message_start", {
    type: "message_start",
    message: { id, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: usage.input, output_tokens: 1 } },
  });
  blocks.forEach((block, index) => {
    if (block.type === "text") {
      send("content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } });
      send("content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: block.text } });
    } else {
      send("content_block_start", { type: "content_block_start", index, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } });
      send("content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: JSON.stringify(block.input) } });
    }
    send("content_block_stop", { type: "content_block_stop", index });
  });
  send("message_delta", { type: "message_delta", delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: usage.output } });
  send("message_stop", { type: "message_stop" });
  res.end();
}

// ---------- OpenAI Chat Completions ----------

interface ChatBody {
  model?: string;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  tools?: Array<{ function: { name: string } }>;
  messages: Array<{ role: string; content: unknown }>;
}

function chatReply(body: ChatBody): { text?: string; call?: Call } {
  const tools = (body.tools ?? []).map((t) => t.function.name);
  if (tools.length === 0) return { text: "Fake title" };
  const userIndexes = body.messages.map((m, i) => (m.role === "user" ? i : -1)).filter((i) => i >= 0);
  const last = userIndexes[userIndexes.length - 1] ?? 0;
  const step = body.messages.slice(last + 1).filter((m) => m.role === "tool").length;
  const prompts = userIndexes.map((i) => textOf(body.messages[i]?.content));
  const systemTexts = body.messages.filter((m) => m.role === "system").map((m) => textOf(m.content));
  const script = scriptFor(prompts);
  const calls = callsFor(script.steps, tools, "chat", findCwd([...systemTexts, ...prompts]));
  const call = calls[step];
  if (call) return { call };
  if (tools.includes("finish")) {
    // Loopy's agent ends a turn by calling finish.
    if (step === calls.length) return { call: { name: "finish", input: { summary: script.say } } };
  }
  return { text: script.say };
}

function sendChat(res: ServerResponse, body: ChatBody, usage: { input: number; output: number }) {
  const reply = chatReply(body);
  const id = `chatcmpl-fake-${Date.now()}`;
  const model = body.model ?? "fake-model";
  const created = Math.floor(Date.now() / 1000);
  const toolCall = reply.call && { id: `call_fake_${Date.now()}`, type: "function", function: { name: reply.call.name, arguments: JSON.stringify(reply.call.input) } };
  const usageBody = { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output };
  if (!body.stream) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id,
        object: "chat.completion",
        created,
        model,
        choices: [{ index: 0, message: { role: "assistant", content: reply.text ?? null, ...(toolCall ? { tool_calls: [toolCall] } : {}) }, finish_reason: toolCall ? "tool_calls" : "stop" }],
        usage: usageBody,
      }),
    );
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const chunk = (delta: unknown, finish: string | null = null) =>
    res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`);
  chunk({ role: "assistant", content: "" });
  if (toolCall) {
    chunk({ tool_calls: [{ index: 0, id: toolCall.id, type: "function", function: { name: toolCall.function.name, arguments: "" } }] });
    chunk({ tool_calls: [{ index: 0, function: { arguments: toolCall.function.arguments } }] });
    chunk({}, "tool_calls");
  } else {
    chunk({ content: reply.text });
    chunk({}, "stop");
  }
  if (body.stream_options?.include_usage) {
    res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage: usageBody })}\n\n`);
  }
  res.write("data: [DONE]\n\n");
  res.end();
}

export async function startFakeModelServer(options: FakeModelOptions = {}): Promise<FakeModelServer> {
  const usage = options.usage ?? { input: 200, output: 40 };
  const requests: FakeModelServer["requests"] = [];
  const server: Server = createServer(async (req, res) => {
    const raw = req.method === "POST" ? await readBody(req) : "";
    let body: unknown = undefined;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    requests.push({ method: req.method ?? "", url: req.url ?? "", body });
    const url = (req.url ?? "").split("?")[0] ?? "";
    if (req.method === "POST" && url.endsWith("/v1/messages")) return sendAnthropic(res, body as AnthropicBody, usage);
    if (req.method === "POST" && url.endsWith("/v1/messages/count_tokens")) {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ input_tokens: usage.input }));
    }
    if (req.method === "POST" && url.endsWith("/chat/completions")) return sendChat(res, body as ChatBody, usage);
    if (req.method === "GET" && url.endsWith("/models")) {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ object: "list", data: [{ id: "fake-model", object: "model" }] }));
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: `fake model server: no route for ${req.method} ${url}` } }));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", () => resolve()));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

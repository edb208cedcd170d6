import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { existsSync, readFileSync } from "node:fs";
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
  requests: Array<{
    method: string;
    url: string;
    body: unknown;
    headers: Record<string, string | string[] | undefined>;
  }>;
  close(): Promise<void>;
}

export interface FakeModelOptions {
  port?: number;
  /** Token counts reported for every model call. */
  usage?: { input: number; output: number };
  /** Waits this long before answering a model call (a slow model: tests that watch an agent while it runs). */
  delayMs?: number;
}

interface Call {
  name: string;
  input: Record<string, unknown>;
}

type Provider = "anthropic" | "chat" | "responses" | "gemini";

/** Maps script steps to the tool calls a given agent's tools expect. */
function callsFor(steps: Step[], tools: string[], provider: Provider, cwd: string | undefined): Call[] {
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
      .map((part: { type?: string; text?: string }) =>
        part.type === "text" || part.type === "input_text" ? (part.text ?? "") : "",
      )
      .join("\n");
  }
  return "";
}

function findCwd(texts: string[]): string | undefined {
  for (const text of texts) {
    const m =
      /(?:Working directory|working directory|cwd|Worktree|directory):\s*(\/[^\s"'<>]+)/.exec(text) ??
      /<cwd>(\/[^<]+)<\/cwd>/.exec(text);
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
    m.role === "user" &&
    !(Array.isArray(m.content) && m.content.some((b: { type?: string }) => b.type === "tool_result"));
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
  return {
    blocks: [{ type: "tool_use", id: `toolu_fake_${Date.now()}_${step}`, name: call.name, input: call.input }],
    stop: "tool_use",
  };
}

function sendAnthropic(res: ServerResponse, body: AnthropicBody, usage: { input: number; output: number }) {
  const { blocks, stop } = anthropicReply(body);
  const id = `msg_fake_${Date.now()}`;
  const model = body.model ?? "claude-fake";
  if (!body.stream) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id,
        type: "message",
        role: "assistant",
        model,
        content: blocks,
        stop_reason: stop,
        stop_sequence: null,
        usage: { input_tokens: usage.input, output_tokens: usage.output },
      }),
    );
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  send("message_start", {
    type: "message_start",
    message: {
      id,
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: usage.input, output_tokens: 1 },
    },
  });
  blocks.forEach((block, index) => {
    if (block.type === "text") {
      send("content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } });
      send("content_block_delta", {
        type: "content_block_delta",
        index,
        delta: { type: "text_delta", text: block.text },
      });
    } else {
      send("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
      });
      send("content_block_delta", {
        type: "content_block_delta",
        index,
        delta: { type: "input_json_delta", partial_json: JSON.stringify(block.input) },
      });
    }
    send("content_block_stop", { type: "content_block_stop", index });
  });
  send("message_delta", {
    type: "message_delta",
    delta: { stop_reason: stop, stop_sequence: null },
    usage: { output_tokens: usage.output },
  });
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
  const toolCall = reply.call && {
    id: `call_fake_${Date.now()}`,
    type: "function",
    function: { name: reply.call.name, arguments: JSON.stringify(reply.call.input) },
  };
  const usageBody = {
    prompt_tokens: usage.input,
    completion_tokens: usage.output,
    total_tokens: usage.input + usage.output,
  };
  if (!body.stream) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id,
        object: "chat.completion",
        created,
        model,
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: reply.text ?? null,
              ...(toolCall ? { tool_calls: [toolCall] } : {}),
            },
            finish_reason: toolCall ? "tool_calls" : "stop",
          },
        ],
        usage: usageBody,
      }),
    );
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const chunk = (delta: unknown, finish: string | null = null) =>
    res.write(
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`,
    );
  chunk({ role: "assistant", content: "" });
  if (toolCall) {
    chunk({
      tool_calls: [
        { index: 0, id: toolCall.id, type: "function", function: { name: toolCall.function.name, arguments: "" } },
      ],
    });
    chunk({ tool_calls: [{ index: 0, function: { arguments: toolCall.function.arguments } }] });
    chunk({}, "tool_calls");
  } else {
    chunk({ content: reply.text });
    chunk({}, "stop");
  }
  if (body.stream_options?.include_usage) {
    res.write(
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage: usageBody })}\n\n`,
    );
  }
  res.write("data: [DONE]\n\n");
  res.end();
}

// ---------- OpenAI Responses (Codex) ----------

interface ResponsesBody {
  model?: string;
  instructions?: string;
  tools?: Array<{ type: string; name?: string }>;
  input: Array<{ type?: string; role?: string; content?: unknown }>;
}

function sendResponses(res: ServerResponse, body: ResponsesBody, usage: { input: number; output: number }) {
  const tools = (body.tools ?? []).flatMap((t) => (t.name ? [t.name] : []));
  const isPrompt = (item: ResponsesBody["input"][number]) => {
    if ((item.type ?? "message") !== "message" || item.role !== "user") return false;
    const text = textOf(item.content).trim();
    return text.length > 0 && !text.startsWith("<");
  };
  const promptIndexes = body.input.map((item, i) => (isPrompt(item) ? i : -1)).filter((i) => i >= 0);
  const last = promptIndexes[promptIndexes.length - 1] ?? 0;
  const step = body.input
    .slice(last + 1)
    .filter((i) => i.type === "function_call_output" || i.type === "custom_tool_call_output").length;
  const prompts = promptIndexes.map((i) => textOf(body.input[i]?.content));
  const context = body.input.filter((i) => i.role === "user" || i.role === "developer").map((i) => textOf(i.content));
  const script = scriptFor(prompts);
  const calls = tools.length
    ? callsFor(script.steps, tools, "responses", findCwd([body.instructions ?? "", ...context]))
    : [];
  const call = calls[step];
  const id = `resp_fake_${Date.now()}`;
  let item: Record<string, unknown>;
  if (!call)
    item = {
      type: "message",
      id: `msg_${Date.now()}`,
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: script.say, annotations: [] }],
    };
  else if (call.name === "apply_patch")
    item = {
      type: "custom_tool_call",
      id: `ctc_${Date.now()}`,
      call_id: `call_${Date.now()}_${step}`,
      name: "apply_patch",
      input: call.input.patch,
      status: "completed",
    };
  else
    item = {
      type: "function_call",
      id: `fc_${Date.now()}`,
      call_id: `call_${Date.now()}_${step}`,
      name: call.name,
      arguments: JSON.stringify(call.input),
      status: "completed",
    };
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  let seq = 0;
  const send = (data: Record<string, unknown>) =>
    res.write(`event: ${data.type}\ndata: ${JSON.stringify({ ...data, sequence_number: seq++ })}\n\n`);
  const response = {
    id,
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    model: body.model ?? "fake",
    status: "in_progress",
    output: [] as unknown[],
  };
  send({ type: "response.created", response });
  send({ type: "response.output_item.added", output_index: 0, item: { ...item, status: "in_progress" } });
  if (item.type === "message")
    send({
      type: "response.output_text.delta",
      item_id: item.id,
      output_index: 0,
      content_index: 0,
      delta: script.say,
    });
  send({ type: "response.output_item.done", output_index: 0, item });
  send({
    type: "response.completed",
    response: {
      ...response,
      status: "completed",
      output: [item],
      usage: {
        input_tokens: usage.input,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: usage.output,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: usage.input + usage.output,
      },
    },
  });
  res.end();
}

// ---------- Gemini ----------

interface GeminiBody {
  contents: Array<{
    role: string;
    parts: Array<{ text?: string; functionCall?: unknown; functionResponse?: unknown }>;
  }>;
  tools?: Array<{ functionDeclarations?: Array<{ name: string }> }>;
  systemInstruction?: { parts?: Array<{ text?: string }> };
}

function sendGemini(res: ServerResponse, body: GeminiBody, usage: { input: number; output: number }, stream: boolean) {
  const tools = (body.tools ?? []).flatMap((t) => (t.functionDeclarations ?? []).map((f) => f.name));
  const isPrompt = (c: GeminiBody["contents"][number]) =>
    c.role === "user" && c.parts.some((p) => typeof p.text === "string") && !c.parts.some((p) => p.functionResponse);
  const promptIndexes = body.contents.map((c, i) => (isPrompt(c) ? i : -1)).filter((i) => i >= 0);
  const last = promptIndexes[promptIndexes.length - 1] ?? 0;
  const step = body.contents
    .slice(last + 1)
    .flatMap((c) => c.parts)
    .filter((p) => p.functionResponse).length;
  const prompts = promptIndexes.map((i) => (body.contents[i]?.parts ?? []).map((p) => p.text ?? "").join("\n"));
  const system = (body.systemInstruction?.parts ?? []).map((p) => p.text ?? "").join("\n");
  const script = scriptFor(prompts);
  const calls = tools.length ? callsFor(script.steps, tools, "gemini", findCwd([system, ...prompts])) : [];
  const call = calls[step];
  const parts = call
    ? [{ functionCall: { name: call.name, args: call.input } }]
    : [{ text: tools.length ? script.say : "Fake title" }];
  const chunk = {
    candidates: [{ content: { role: "model", parts }, finishReason: "STOP", index: 0 }],
    usageMetadata: {
      promptTokenCount: usage.input,
      candidatesTokenCount: usage.output,
      totalTokenCount: usage.input + usage.output,
    },
    modelVersion: "fake",
  };
  if (!stream) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(chunk));
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream" });
  res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  res.end();
}

export async function startFakeModelServer(options: FakeModelOptions = {}): Promise<FakeModelServer> {
  const usage = options.usage ?? { input: 200, output: 40 };
  const requests: FakeModelServer["requests"] = [];
  const server: Server = createServer(async (req, res) => {
    const raw = req.method === "POST" ? await readBody(req) : "";
    let body: unknown ;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    requests.push({ method: req.method ?? "", url: req.url ?? "", body, headers: { ...req.headers } });
    if (options.delayMs && req.method === "POST") await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    const url = (req.url ?? "").split("?")[0] ?? "";
    if (req.method === "POST" && url.endsWith("/v1/messages")) return sendAnthropic(res, body as AnthropicBody, usage);
    if (req.method === "POST" && url.endsWith("/v1/messages/count_tokens")) {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ input_tokens: usage.input }));
    }
    if (req.method === "POST" && url.endsWith("/chat/completions")) return sendChat(res, body as ChatBody, usage);
    if (req.method === "POST" && url.endsWith("/responses")) return sendResponses(res, body as ResponsesBody, usage);
    if (req.method === "POST" && url.includes(":streamGenerateContent"))
      return sendGemini(res, body as GeminiBody, usage, true);
    if (req.method === "POST" && url.includes(":generateContent"))
      return sendGemini(res, body as GeminiBody, usage, false);
    if (req.method === "POST" && url.includes(":countTokens")) {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ totalTokens: usage.input }));
    }
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

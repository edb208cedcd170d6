import type { ServerResponse } from "node:http";
import { type Call, callsFor, findCwd, textOf } from "./interpreter.ts";
import { scriptFor } from "./script.ts";

// ---------- OpenAI Chat Completions ----------

export interface ChatBody {
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

export function sendChat(res: ServerResponse, body: ChatBody, usage: { input: number; output: number }) {
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

import type { ServerResponse } from "node:http";
import { callsFor, findCwd, textOf } from "./interpreter.ts";
import { scriptFor } from "./script.ts";

// ---------- Anthropic Messages ----------

export interface AnthropicBody {
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

export function sendAnthropic(res: ServerResponse, body: AnthropicBody, usage: { input: number; output: number }) {
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

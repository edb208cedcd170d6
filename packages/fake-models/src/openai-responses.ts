import type { ServerResponse } from "node:http";
import { callsFor, findCwd, textOf } from "./interpreter.ts";
import { scriptFor } from "./script.ts";

// ---------- OpenAI Responses (Codex) ----------

export interface ResponsesBody {
  model?: string;
  instructions?: string;
  tools?: Array<{ type: string; name?: string }>;
  input: Array<{ type?: string; role?: string; content?: unknown }>;
}

export function sendResponses(res: ServerResponse, body: ResponsesBody, usage: { input: number; output: number }) {
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

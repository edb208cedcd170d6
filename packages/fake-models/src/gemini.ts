import type { ServerResponse } from "node:http";
import { callsFor, findCwd } from "./interpreter.ts";
import { scriptFor } from "./script.ts";

// ---------- Gemini ----------

export interface GeminiBody {
  contents: Array<{
    role: string;
    parts: Array<{ text?: string; functionCall?: unknown; functionResponse?: unknown }>;
  }>;
  tools?: Array<{ functionDeclarations?: Array<{ name: string }> }>;
  systemInstruction?: { parts?: Array<{ text?: string }> };
}

export function sendGemini(
  res: ServerResponse,
  body: GeminiBody,
  usage: { input: number; output: number },
  stream: boolean,
) {
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

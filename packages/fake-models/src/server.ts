import { createServer, type IncomingMessage, type Server } from "node:http";
import { type AnthropicBody, sendAnthropic } from "./anthropic.ts";
import { type GeminiBody, sendGemini } from "./gemini.ts";
import { type ChatBody, sendChat } from "./openai-chat.ts";
import { type ResponsesBody, sendResponses } from "./openai-responses.ts";

/**
 * A fake model server speaking the Anthropic Messages API (Claude Code) and the
 * OpenAI Chat Completions API (Loopy's openai-compatible agent, opencode, any
 * OpenAI-compatible client), streaming and not. Replies follow the script in
 * the conversation (see script.ts): the step is the number of tool results
 * after the latest prompt, so resumed sessions need no server state.
 *
 * One module per wire protocol beside this one (anthropic.ts, openai-chat.ts,
 * openai-responses.ts, gemini.ts); interpreter.ts turns a script into tool calls.
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

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function startFakeModelServer(options: FakeModelOptions = {}): Promise<FakeModelServer> {
  const usage = options.usage ?? { input: 200, output: 40 };
  const requests: FakeModelServer["requests"] = [];
  const server: Server = createServer(async (req, res) => {
    const raw = req.method === "POST" ? await readBody(req) : "";
    let body: unknown;
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

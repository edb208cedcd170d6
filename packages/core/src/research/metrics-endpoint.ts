import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseStepLine } from "@loopy/research-math/metrics";

const MAX_BODY = 1024 * 1024;

/**
 * A per-experiment HTTP endpoint for scripts that prefer to log step values
 * over HTTP instead of printing them: `POST $LOOPY_METRICS_URL` with one step
 * object (`{"step": 10, "loss": 2.31}`), an array of them, or one per line.
 * Same rules as step lines on stdout. Listens on 127.0.0.1 only, under a
 * random path, for as long as the experiment runs.
 */
export async function openMetricsEndpoint(
  onStep: (step: number, values: Record<string, number>) => void,
): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const secret = `/${randomBytes(12).toString("hex")}`;
  const server = createServer((req, res) => {
    const reply = (code: number, message?: string) => {
      res.writeHead(code, { "content-type": "text/plain" });
      res.end(message ? `${message}\n` : undefined);
    };
    if (req.url !== secret) return reply(404, "not found");
    if (req.method !== "POST") return reply(405, "POST step values here");
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reply(413, "body over 1 MB");
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => {
      if (size > MAX_BODY) return;
      const text = Buffer.concat(chunks).toString("utf8").trim();
      let records: unknown[];
      try {
        const parsed: unknown = JSON.parse(text);
        records = Array.isArray(parsed) ? parsed : [parsed];
      } catch {
        records = text.split("\n").filter((l) => l.trim());
      }
      let accepted = 0;
      for (const record of records) {
        const step = parseStepLine(typeof record === "string" ? record : JSON.stringify(record));
        if (!step) continue;
        onStep(step.step, step.values);
        accepted++;
      }
      if (accepted === 0) return reply(400, 'no step values: send {"step": <number>, "<series>": <number>, ...}');
      reply(204);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${secret}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

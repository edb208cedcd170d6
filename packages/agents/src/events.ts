import { z } from "zod";

/**
 * The one event schema every agent adapter emits, whatever CLI or API is behind
 * it. The UI, the CLI and the database only ever see these shapes.
 */
const agentEventSchema = z.discriminatedUnion("type", [
  /** A line of process output (the command agent, or raw CLI stderr). */
  z.object({ type: z.literal("log"), stream: z.enum(["stdout", "stderr"]), line: z.string() }),
  /** Text the agent said. */
  z.object({ type: z.literal("message"), text: z.string() }),
  /** The agent called a tool; `summary` is a short, human-readable form of its input. */
  z.object({ type: z.literal("tool_call"), id: z.string().optional(), name: z.string(), summary: z.string() }),
  z.object({
    type: z.literal("tool_result"),
    id: z.string().optional(),
    name: z.string().optional(),
    ok: z.boolean(),
    summary: z.string(),
  }),
  /** A shell command the agent ran (or the command agent's own command), with its exit code once known. */
  z.object({ type: z.literal("command"), command: z.string(), exitCode: z.number().int().nullable() }),
  z.object({ type: z.literal("file_edit"), path: z.string(), kind: z.enum(["create", "modify", "delete", "rename"]) }),
  z.object({
    type: z.literal("usage"),
    inputTokens: z.number().int().nonnegative(),
    outputTokens: z.number().int().nonnegative(),
    costUsd: z.number().nonnegative().optional(),
  }),
  z.object({ type: z.literal("error"), message: z.string() }),
  /** The agent's own session id, which a follow-up resumes. */
  z.object({ type: z.literal("session"), id: z.string() }),
  /** The agent's own final word on its turn. */
  z.object({
    type: z.literal("outcome"),
    ok: z.boolean(),
    exitCode: z.number().int().nullable(),
    timedOut: z.boolean(),
    cancelled: z.boolean(),
    summary: z.string().optional(),
  }),
]);

export type AgentEvent = z.infer<typeof agentEventSchema>;

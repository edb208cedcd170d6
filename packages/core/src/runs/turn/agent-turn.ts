import { profileSecretNames, type AgentOutcome } from "@loopy/agents/adapter";
import { withModelGateway } from "@loopy/agents/model-gateway";
import { currentMemory, withMemory } from "../../projects/memory.ts";
import { stoppedForRecovery } from "../run-recovery.ts";
import { secretsForAgent } from "../../secrets/inject.ts";
import {
  agentStateDir,
  type Ending,
  type ExecuteRunDeps,
  fleetEnv,
  type TurnContext,
  type TurnRow,
  type TurnTools,
} from "./context.ts";

const LOG_TAIL_LINES = 60;

/** What the agent's part of a turn left, for the commit and the decision. */
export interface AgentTurn {
  outcome: AgentOutcome;
  /** The agent's last message: a question in it is passed on when the turn changed nothing. */
  lastMessage: string;
}

/**
 * Steps 1 and 2 of a turn, up to the agent's exit: marks the turn running,
 * resolves the secrets, builds the prompt (an LLM agent's first turn starts
 * with the project's memory) and runs the agent in the worktree, its events
 * into the log. Ends the run instead when a secret is missing (failed) or the
 * worker is shutting down or was taken over mid-turn (handed over: the turn
 * re-runs from its start).
 */
export async function runAgentTurn(
  deps: ExecuteRunDeps,
  ctx: TurnContext,
  tools: TurnTools,
  turn: TurnRow,
  sessionId: string | null,
): Promise<AgentTurn | Ending> {
  const { db } = deps;
  const { runId, events, redactor } = ctx;
  await db.runTurn.update({ where: { id: turn.id }, data: { status: "running", startedAt: new Date() } });
  await db.run.update({ where: { id: runId }, data: { turns: turn.index + 1 } });
  events.push({ type: "turn", index: turn.index, kind: turn.kind as "initial" });

  const env: Record<string, string> = {
    LOOPY_RUN_ID: runId,
    LOOPY_TURN: String(turn.index),
    ...fleetEnv(ctx.fleet),
  };
  // Resolved at every turn start (a secret may have been changed since), for the agent's process only.
  let secrets: Record<string, string>;
  try {
    secrets = await secretsForAgent(
      { db, masterKey: { value: deps.masterKey, loopyHome: deps.loopyHome }, workerEnv: deps.secrets },
      { profile: profileSecretNames(ctx.profile), task: ctx.taskSecrets },
    );
  } catch (error) {
    return { to: "failed", reason: (error as Error).message, keepWorktree: false };
  }
  redactor.add(secrets);
  Object.assign(env, secrets);
  // An LLM agent's first turn starts with the project's memory.
  const instruction =
    ctx.adapter.takes !== "command" && turn.kind === "initial"
      ? withMemory(turn.prompt, (await currentMemory(db, ctx.projectId))?.content)
      : turn.prompt;
  let lastMessage = "";
  const stateDir = agentStateDir(deps.loopyHome, runId);
  const outcome = await ctx.adapter.run(
    await withModelGateway(ctx.adapter, {
      cwd: ctx.worktree,
      instruction,
      env,
      timeoutMs: ctx.timeoutMs,
      signal: ctx.signal,
      sessionId,
      profile: ctx.profile,
      stateDir,
      binDirs: deps.agentBinDirs,
      sandbox: await tools.sandbox([stateDir]),
    }),
    (raw) => {
      const event = redactor.deep(raw);
      if (event.type === "message") lastMessage = event.text;
      if (event.type === "log") {
        ctx.tail.push(event.line);
        if (ctx.tail.length > LOG_TAIL_LINES) ctx.tail.shift();
      }
      events.push(event);
    },
  );
  await events.flush();
  // Shutting down (or taken over): the turn did not finish; whoever takes the run re-runs it from its start.
  if (stoppedForRecovery(ctx.signal)) return { to: "running", keepWorktree: true, handover: true };
  return { outcome, lastMessage };
}

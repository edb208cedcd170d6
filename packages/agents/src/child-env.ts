import { inheritedEnv } from "@loopy/config/env";

/** What every child process inherits from the worker: enough to find tools, nothing else. */
const INHERITED = ["PATH", "HOME", "USER", "LANG", "LC_ALL", "TERM", "SHELL", "TMPDIR", "TZ"] as const;

/**
 * Never in a child's environment, even when a caller passes them: Loopy's own
 * database, Redis, master key, API token and admin password.
 */
export const NEVER_INHERITED = new Set([
  "DATABASE_URL",
  "REDIS_URL",
  "LOOPY_MASTER_KEY",
  "LOOPY_TOKEN",
  "LOOPY_ADMIN_PASSWORD",
]);

/**
 * The one place a child's environment is built (agents, their tools, command
 * checkpoints, research experiments): the few harmless variables the worker
 * has (`INHERITED`, or `base` instead), then `extra` (LOOPY_RUN_ID, the
 * secrets this agent asked for), minus `NEVER_INHERITED`. Nothing else of the
 * worker's environment passes, so a secret reaches a child only when the
 * caller put it in `extra`.
 */
export function childEnv(
  extra: Record<string, string> = {},
  base?: Record<string, string>,
  source?: NodeJS.ProcessEnv,
): Record<string, string> {
  const env: Record<string, string> = { ...(base ?? inheritedEnv(INHERITED, source)), ...extra };
  for (const key of Object.keys(env)) if (NEVER_INHERITED.has(key)) delete env[key];
  return env;
}

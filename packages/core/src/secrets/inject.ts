import type { Db } from "@loopy/db/client";
import type { MasterKeySource } from "./master-key.ts";
import { resolveSecrets } from "./store.ts";
import { RESERVED_SECRET } from "./names.ts";

export interface AgentSecretSources {
  db: Db;
  masterKey: MasterKeySource;
  /** The worker's own environment variables a profile may name (the way before stored secrets). */
  workerEnv?: (names: string[]) => Record<string, string>;
}

/**
 * The secrets one agent turn gets, by name: the profile's names (a stored
 * secret, else the worker's environment variable of that name) and the task's
 * (stored secrets only: whoever launches a run must not be able to read the
 * worker's environment by naming a variable). Throws, naming each missing one.
 */
export async function secretsForAgent(
  sources: AgentSecretSources,
  wanted: { profile: string[]; task: string[] },
): Promise<Record<string, string>> {
  const profileNames = [...new Set(wanted.profile)].filter((n) => !RESERVED_SECRET.test(n));
  const taskNames = [...new Set(wanted.task)].filter((n) => !RESERVED_SECRET.test(n));
  const all = [...new Set([...profileNames, ...taskNames])];
  if (all.length === 0) return {};
  const stored = await sources.db.secret.findMany({ where: { name: { in: all } }, select: { name: true } });
  const storedNames = new Set(stored.map((s) => s.name));
  const values = await resolveSecrets(sources.db, sources.masterKey, [...storedNames]);
  const fromWorker = sources.workerEnv?.(profileNames.filter((n) => !storedNames.has(n))) ?? {};
  const missingProfile = profileNames.filter((n) => !values[n] && !fromWorker[n]);
  const missingTask = taskNames.filter((n) => !values[n]);
  const problems: string[] = [];
  if (missingProfile.length) {
    problems.push(
      `The profile needs ${missingProfile.join(", ")}, which ${missingProfile.length === 1 ? "is" : "are"} neither a stored secret nor set in the worker's environment`,
    );
  }
  if (missingTask.length)
    problems.push(
      `The task needs the secret${missingTask.length > 1 ? "s" : ""} ${missingTask.join(", ")}, not stored (loopy secret set NAME)`,
    );
  if (problems.length) throw new Error(problems.join("; "));
  return { ...fromWorker, ...values };
}

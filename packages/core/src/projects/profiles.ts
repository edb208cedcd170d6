import { z } from "zod";
import { Prisma, type Db } from "@loopy/db/client";
import { agentNames, findAgent } from "@loopy/agents/registry";
import type { AgentProfileConfig } from "@loopy/agents/adapter";
import { badInput, conflict } from "../shared/errors.ts";
import { newId } from "../shared/ids.ts";
import { missingSecrets } from "../secrets/store.ts";

import { RESERVED_SECRET, SECRET_NAME } from "../secrets/names.ts";

/** Loopy's own configuration is never handed to an agent, whatever a profile asks for. */
export { RESERVED_SECRET };

const secretNameList = z
  .array(
    z
      .string()
      .regex(SECRET_NAME, "secret names are environment variable names like ANTHROPIC_API_KEY")
      .refine((n) => !RESERVED_SECRET.test(n), {
        message:
          "Loopy's own settings (DATABASE_URL, REDIS_URL, LOOPY_*) and variables like PATH cannot be given to an agent",
      }),
  )
  .max(20)
  .optional();

/**
 * A profile's settings. Secrets are referred to by name, never held here:
 * `secrets` names stored secrets (`loopy secret set`), `secretNames` a stored
 * secret or else an environment variable of the worker (how profiles named
 * API keys before Loopy stored secrets). Either is injected into the agent's
 * environment under its name.
 */
export const profileConfigSchema = z.object({
  model: z.string().min(1).max(200).optional(),
  baseUrl: z.string().url("baseUrl must be a URL such as http://127.0.0.1:11434/v1").optional(),
  secrets: secretNameList,
  secretNames: secretNameList,
  maxTurns: z.number().int().min(1).max(500).optional(),
  budgetUsd: z.number().positive().max(10_000).optional(),
  budgetTokens: z.number().int().positive().optional(),
});

const profileSelect = { id: true, name: true, adapter: true, config: true, createdAt: true } as const;
export type ProfileView = Omit<Prisma.AgentProfileGetPayload<{ select: typeof profileSelect }>, "config"> & {
  config: AgentProfileConfig;
};

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function view(row: Prisma.AgentProfileGetPayload<{ select: typeof profileSelect }>): ProfileView {
  return { ...row, config: profileConfigSchema.parse(row.config ?? {}) };
}

/** Saves a named agent configuration after checking the adapter exists and the settings make sense. */
export async function createProfile(
  db: Db,
  input: { name: string; adapter: string; config?: unknown },
): Promise<ProfileView> {
  const name = input.name.trim();
  if (!NAME.test(name)) throw badInput(`Invalid profile name "${name}": use letters, digits, ".", "_" and "-"`);
  if (findAgent(name)) throw badInput(`"${name}" is the name of an adapter; choose another profile name`);
  if (!findAgent(input.adapter))
    throw badInput(`Unknown adapter "${input.adapter}". Available: ${agentNames().join(", ")}`);
  const parsed = profileConfigSchema.safeParse(input.config ?? {});
  if (!parsed.success)
    throw badInput(
      `Invalid profile settings: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  const unset = await missingSecrets(db, parsed.data.secrets ?? []);
  if (unset.length)
    throw badInput(
      `The profile names secret${unset.length > 1 ? "s" : ""} that ${unset.length > 1 ? "are" : "is"} not stored: ${unset.join(", ")}. Set ${unset.length > 1 ? "them" : "it"} first with "loopy secret set NAME"`,
    );
  try {
    return view(
      await db.agentProfile.create({
        data: { id: newId(), name, adapter: input.adapter, config: parsed.data },
        select: profileSelect,
      }),
    );
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002")
      throw conflict(`A profile named "${name}" already exists`);
    throw error;
  }
}

export async function listProfiles(db: Db): Promise<ProfileView[]> {
  return (await db.agentProfile.findMany({ orderBy: { name: "asc" }, select: profileSelect })).map(view);
}

export async function findProfile(db: Db, idOrName: string): Promise<ProfileView | null> {
  const row = await db.agentProfile.findFirst({
    where: { OR: [{ id: idOrName }, { name: idOrName }] },
    select: profileSelect,
  });
  return row ? view(row) : null;
}

/**
 * The agents this Loopy can run, and what each one misses on this machine (its executable, say), checked with
 * a placeholder model and endpoint: what a profile would add is checked when a profile is saved or launched.
 */
export function listAgents(agentBinDirs: string[]) {
  return Promise.all(
    agentNames().map(async (name) => {
      const agent = findAgent(name)!;
      return {
        name,
        label: agent.label,
        takes: agent.takes,
        resumable: agent.resumable,
        missing: await agent.unavailable({ binDirs: agentBinDirs, profile: { model: "-", baseUrl: "http://-" } }),
      };
    }),
  );
}

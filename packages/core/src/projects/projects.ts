import path from "node:path";
import { Prisma, type Db } from "@loopy/db/client";
import { badInput, conflict, notFound } from "../shared/errors.ts";
import { inspectRepo, type RepoProblem } from "../shared/git.ts";
import { newId } from "../shared/ids.ts";
import { parseCheckpoints, type Checkpoint } from "../runs/turn/checkpoints.ts";
import { parseRoutingRules } from "./routing.ts";
import { findAgent } from "@loopy/agents/registry";

const PROBLEMS: Record<RepoProblem, (p: string) => string> = {
  missing: (p) => `No such directory: ${p}`,
  not_a_directory: (p) => `${p} is a file, not a directory`,
  not_a_repo: (p) => `${p} is not a git repository (run "git init" there first)`,
  no_commits: (p) => `${p} has no commits yet; commit something first, runs start from a commit`,
  bare: (p) => `${p} is a bare repository; register a checkout with a work tree`,
};

const projectSelect = {
  id: true,
  name: true,
  path: true,
  defaultBranch: true,
  checkpoints: true,
  mergeStrategy: true,
  maxAttempts: true,
  routingRules: true,
  egressHosts: true,
  commitAuthorName: true,
  commitAuthorEmail: true,
  createdAt: true,
} as const;
export type ProjectView = Prisma.ProjectGetPayload<{ select: typeof projectSelect }>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Registers a git repository by local path. The path must exist, be a git work
 * tree and have a commit; the project is stored at the repository's root with
 * its default branch. The name defaults to the folder's name.
 */
export async function registerProject(
  db: Db,
  input: { path: string; name?: string; checkpoints?: unknown },
): Promise<ProjectView> {
  const checkpoints = validCheckpoints(input.checkpoints);
  const raw = input.path.trim();
  if (!raw) throw badInput("Path is empty: give the path of a local git repository");
  if (!path.isAbsolute(raw)) throw badInput(`Path must be absolute, got "${raw}"`);
  const inspected = await inspectRepo(path.resolve(raw));
  if (!inspected.ok) throw badInput(PROBLEMS[inspected.problem](raw));
  const { root, defaultBranch } = inspected.info;
  const name = (input.name?.trim() || path.basename(root)).replace(/\s+/g, "-");
  if (!NAME.test(name))
    throw badInput(`Invalid project name "${name}": use letters, digits, ".", "_" and "-" (at most 64)`);
  const existing = await db.project.findFirst({ where: { OR: [{ path: root }, { name }] }, select: projectSelect });
  if (existing) {
    throw conflict(
      existing.path === root
        ? `${root} is already registered as project "${existing.name}"`
        : `A project named "${name}" already exists`,
    );
  }
  try {
    return await db.project.create({
      data: { id: newId(), name, path: root, defaultBranch, checkpoints },
      select: projectSelect,
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") {
      throw conflict(`A project with this name or path was registered at the same moment; try again`);
    }
    throw error;
  }
}

export function listProjects(db: Db): Promise<ProjectView[]> {
  return db.project.findMany({ orderBy: { createdAt: "asc" }, select: projectSelect });
}

/** Finds a project by id or by name. */
export async function findProject(db: Db, idOrName: string): Promise<ProjectView> {
  const key = idOrName.trim();
  if (!key) throw badInput("No project given: pass a project id or name");
  const project = await db.project.findFirst({ where: { OR: [{ id: key }, { name: key }] }, select: projectSelect });
  if (!project) throw notFound(`No project "${key}". List them with "loopy projects".`);
  return project;
}

function validCheckpoints(value: unknown): Checkpoint[] {
  try {
    return parseCheckpoints(value ?? [], "the project");
  } catch (error) {
    throw badInput((error as Error).message);
  }
}

export interface ProjectSettings {
  checkpoints?: unknown;
  mergeStrategy?: "merge" | "squash";
  maxAttempts?: number;
  /** Routing rules [{ tag, agent }]: a task's tags pick its agent (see routing.ts). */
  routingRules?: unknown;
  /** Hosts its sandboxed processes may reach through the egress proxy ("registry.npmjs.org", "*.pypi.org", "10.0.0.5:8080"). */
  egressHosts?: string[];
  /** Who approvals' commits are authored by (the committer stays Loopy); empty name: back to Loopy <loopy@localhost>. */
  commitAuthorName?: string;
  commitAuthorEmail?: string;
}

/** Changes a project's checkpoints, merge strategy or attempts per run. */
export async function updateProjectSettings(db: Db, idOrName: string, settings: ProjectSettings): Promise<ProjectView> {
  const project = await findProject(db, idOrName);
  if (
    settings.maxAttempts !== undefined &&
    (!Number.isInteger(settings.maxAttempts) || settings.maxAttempts < 1 || settings.maxAttempts > 20)
  ) {
    throw badInput("maxAttempts must be a whole number from 1 to 20");
  }
  let routingRules: ReturnType<typeof parseRoutingRules> | undefined;
  if (settings.routingRules !== undefined) {
    routingRules = parseRoutingRules(settings.routingRules);
    for (const rule of routingRules) {
      const known =
        findAgent(rule.agent) ||
        (await db.agentProfile.findFirst({ where: { name: rule.agent }, select: { id: true } }));
      if (!known)
        throw badInput(`Routing rule "${rule.tag} → ${rule.agent}": no adapter or profile named "${rule.agent}"`);
    }
  }
  return db.project.update({
    where: { id: project.id },
    data: {
      ...(settings.checkpoints !== undefined ? { checkpoints: validCheckpoints(settings.checkpoints) } : {}),
      ...(settings.mergeStrategy ? { mergeStrategy: settings.mergeStrategy } : {}),
      ...(settings.maxAttempts !== undefined ? { maxAttempts: settings.maxAttempts } : {}),
      ...(routingRules ? { routingRules } : {}),
      ...(settings.egressHosts !== undefined ? { egressHosts: validEgressHosts(settings.egressHosts) } : {}),
      ...commitAuthor(settings),
    },
    select: projectSelect,
  });
}

/** "host", "host:port", "*.domain", "IPv4:port", "[IPv6]:port": what the egress proxy's allow list understands. */
const EGRESS_HOST =
  /^(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$/i;

function validEgressHosts(hosts: string[]): string[] {
  const cleaned = [...new Set(hosts.map((h) => h.trim().toLowerCase()).filter(Boolean))];
  const bad = cleaned.filter((h) => !EGRESS_HOST.test(h) || Number(h.split(":").at(-1)) > 65535);
  if (bad.length)
    throw badInput(
      `Not a host the egress proxy can allow: ${bad.join(", ")} (use "example.com", "example.com:8443", "*.example.com" or "10.0.0.5:8080")`,
    );
  return cleaned;
}

/** A name and email git accepts as an author; both cleared when the name is empty (Loopy authors again). */
function commitAuthor(settings: ProjectSettings): {
  commitAuthorName?: string | null;
  commitAuthorEmail?: string | null;
} {
  if (settings.commitAuthorName === undefined && settings.commitAuthorEmail === undefined) return {};
  const name = settings.commitAuthorName?.trim() ?? "";
  const email = settings.commitAuthorEmail?.trim() ?? "";
  if (!name) {
    if (email) throw badInput("A commit author's email needs a name too");
    return { commitAuthorName: null, commitAuthorEmail: null };
  }
  if (/[<>\n\r]/.test(name) || name.length > 100)
    throw badInput(`Commit author name "${name}" is not allowed: at most 100 characters, no "<", ">" or line breaks`);
  if (email && !/^[^\s<>@]+@[^\s<>@]+$/.test(email))
    throw badInput(`Commit author email "${email}" is not an email address`);
  return { commitAuthorName: name, commitAuthorEmail: email || null };
}

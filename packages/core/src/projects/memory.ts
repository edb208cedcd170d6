import { rm } from "node:fs/promises";
import { readRegularFile } from "@loopy/agents/safe-files";

/** Notes larger than this are not taken (the memory goes in front of every later prompt). */
const MAX_NOTES_BYTES = 64 * 1024;
import path from "node:path";
import { Prisma, type Db } from "@loopy/db/client";
import { badInput } from "../shared/errors.ts";
import { newId } from "../shared/ids.ts";
import { findProject } from "./projects.ts";

/**
 * A project's shared memory: conventions, learnings, what failed before. Loopy
 * puts it in front of every agent it starts on the project; people edit it in
 * the UI; agents add to it by writing NOTES_FILE in their worktree, which Loopy
 * collects (and keeps out of the diff) when the turn ends.
 */
const NOTES_FILE = "LOOPY_NOTES.md";
const MAX_MEMORY = 64 * 1024;

export async function currentMemory(
  db: Db | Prisma.TransactionClient,
  projectId: string,
): Promise<{ version: number; content: string } | null> {
  return db.projectMemory.findFirst({
    where: { projectId },
    orderBy: { version: "desc" },
    select: { version: true, content: true },
  });
}

export async function memoryHistory(db: Db, project: string) {
  const p = await findProject(db, project);
  const versions = await db.projectMemory.findMany({
    where: { projectId: p.id },
    orderBy: { version: "desc" },
    take: 50,
    select: { version: true, content: true, author: true, createdAt: true },
  });
  return { project: p.name, current: versions[0] ?? null, versions };
}

async function writeVersion(db: Db, projectId: string, content: string, author: string) {
  if (content.length > MAX_MEMORY) throw badInput(`Project memory is limited to ${MAX_MEMORY / 1024} KiB`);
  // Versions are numbered per project; a concurrent writer makes the unique index fail, so retry once.
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.$transaction(async (tx) => {
        const latest = await currentMemory(tx, projectId);
        if (latest?.content === content) return latest;
        return tx.projectMemory.create({
          data: { id: newId(), projectId, version: (latest?.version ?? 0) + 1, content, author },
          select: { version: true, content: true },
        });
      });
    } catch (error) {
      if (attempt === 0 && error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") continue;
      throw error;
    }
  }
}

/** Replaces the memory with what a person wrote. */
export async function saveMemory(db: Db, project: string, content: string) {
  const p = await findProject(db, project);
  return writeVersion(db, p.id, content.trimEnd(), "person");
}

/** The prompt an agent starts with: the project's memory, then the task. */
export function withMemory(prompt: string, memory: string | null | undefined): string {
  if (!memory?.trim())
    return `${prompt}\n\n(To leave notes for future agents on this project, write them to ${NOTES_FILE} in the worktree.)`;
  return [
    "Project memory: notes from people and earlier agents on this project. Keep them in mind.",
    "",
    memory.trim(),
    "",
    `(To add to this memory, write new notes to ${NOTES_FILE} in the worktree; Loopy collects them.)`,
    "",
    "---",
    "",
    prompt,
  ].join("\n");
}

/** Moves an agent's notes file from the worktree into the project's memory (secret values redacted). Returns whether there were notes. */
export async function collectNotes(
  db: Db,
  projectId: string,
  runId: string,
  worktree: string,
  redact: (text: string) => string = (t) => t,
): Promise<boolean> {
  const file = path.join(worktree, NOTES_FILE);
  // The agent wrote the workspace: a symlink (to the master key, say), a FIFO or a huge file is not notes.
  const read = (await readRegularFile(worktree, file, MAX_NOTES_BYTES))?.toString("utf8") ?? null;
  // The memory is put in front of every later agent: a secret the agent wrote down must not travel with it.
  const notes = read === null ? null : redact(read);
  if (notes === null) return false;
  await rm(file, { force: true });
  if (!notes.trim()) return false;
  const latest = await currentMemory(db, projectId);
  const content = latest?.content ? `${latest.content}\n\n${notes.trim()}` : notes.trim();
  await writeVersion(db, projectId, content, `run:${runId}`);
  return true;
}

import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Db } from "@loopy/db/client";
import { DEMO_PROJECT } from "@loopy/research-math/demo";
import { git } from "../shared/git.ts";
import { registerProject } from "../projects/projects.ts";

/**
 * Registers the built-in research demo (examples/char-lm) as a project, once
 * per Loopy home: the files are copied into `<home>/demo/char-lm` and committed
 * there, so experiments never touch Loopy's own checkout. A marker remembers
 * that it was done, so a demo project the user removed stays removed.
 */
export async function seedDemoProject(
  db: Db,
  input: { home: string; source: string },
): Promise<{ seeded: boolean; path: string }> {
  const target = path.join(input.home, "demo", "char-lm");
  const marker = path.join(input.home, "demo", ".seeded");
  if (existsSync(marker)) return { seeded: false, path: target };
  if (await db.project.findFirst({ where: { OR: [{ name: DEMO_PROJECT }, { path: target }] }, select: { id: true } })) {
    return { seeded: false, path: target };
  }
  if (!existsSync(path.join(target, ".git"))) {
    await mkdir(target, { recursive: true });
    for (const entry of await readdir(input.source, { withFileTypes: true })) {
      if (entry.isFile()) await copyFile(path.join(input.source, entry.name), path.join(target, entry.name));
    }
    await git(target, ["init", "-q", "-b", "main"]);
    await git(target, ["add", "-A"]);
    await git(target, [
      "-c",
      "user.name=Loopy",
      "-c",
      "user.email=loopy@localhost",
      "commit",
      "-q",
      "-m",
      "char-lm demo: a tiny character-level language model",
    ]);
  }
  await registerProject(db, { path: target, name: DEMO_PROJECT });
  await writeFile(marker, `${new Date().toISOString()}\n`);
  return { seeded: true, path: target };
}

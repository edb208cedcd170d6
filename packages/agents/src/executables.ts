import { access, constants } from "node:fs/promises";
import path from "node:path";
import { inheritedEnv } from "@loopy/config/env";

/** Finds an executable in `extraDirs`, then PATH. Null when it is nowhere. */
export async function findExecutable(
  name: string,
  extraDirs: string[] = [],
  pathEnv = inheritedEnv(["PATH"]).PATH ?? "",
): Promise<string | null> {
  for (const dir of [...extraDirs, ...pathEnv.split(path.delimiter)]) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

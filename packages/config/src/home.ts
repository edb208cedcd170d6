import { chmod, mkdir, stat } from "node:fs/promises";

/**
 * Creates $LOOPY_HOME with mode 0700, or tightens an existing one that group or others may enter: it
 * holds the master key, the CLI token, the admin password, the embedded database and every run's
 * worktree, and what is under it is then out of other users' reach whatever its own mode. Says so in
 * one line when it tightened the mode; a folder it cannot change (another owner) is left as it is,
 * with a warning.
 */
export async function ensureLoopyHome(home: string, log: (line: string) => void = console.log): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  const mode = (await stat(home)).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  const octal = (m: number) => m.toString(8).padStart(4, "0");
  try {
    await chmod(home, 0o700);
    log(`Loopy home ${home} was mode ${octal(mode)}; now 0700 (only its owner may enter it)`);
  } catch (error) {
    log(
      `warning: Loopy home ${home} is mode ${octal(mode)} and could not be made 0700 (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): other users may read what is in it`,
    );
  }
}

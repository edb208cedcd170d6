import { existsSync, lstatSync, realpathSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { runProcess } from "./process.ts";
import type { SandboxPolicy } from "./sandbox.ts";

/**
 * File and command operations confined to one worktree: the tools of Loopy's
 * own agent. Every path is resolved inside the root; anything that escapes it
 * (.., absolute paths elsewhere, .git) is refused.
 */
export class Workspace {
  /**
   * `env` (LOOPY_RUN_ID, the secrets the agent asked for) and `sandbox` apply
   * to `run`, as they would to an agent CLI's own shell tool.
   */
  constructor(
    readonly root: string,
    private readonly options: { env?: Record<string, string>; sandbox?: SandboxPolicy } = {},
  ) {}

  /**
   * The absolute path for `relative`, refusing anything outside the worktree,
   * including through a symlink (the nearest existing parent is resolved), and
   * any .git folder.
   */
  resolve(relative: string): string {
    const target = path.resolve(this.root, relative);
    const inside = (p: string, root: string) => {
      const rel = path.relative(root, p);
      return !(rel.startsWith("..") || path.isAbsolute(rel));
    };
    if (!inside(target, this.root)) throw new Error(`${relative} is outside the worktree`);
    if (
      path
        .relative(this.root, target)
        .split(path.sep)
        .some((part) => part.toLowerCase() === ".git")
    )
      throw new Error("the .git folder is off limits");
    // The deepest part of the path that exists (a symlink counts, even a broken one) decides where it really leads.
    let existing = target;
    for (;;) {
      const info = lstatSync(existing, { throwIfNoEntry: false });
      if (info) {
        // A broken symlink has no real path to check, and writing through it would create its target wherever that is.
        if (info.isSymbolicLink() && !existsSync(existing))
          throw new Error(`${relative} is a symlink to a missing file; refused`);
        break;
      }
      existing = path.dirname(existing);
    }
    if (!inside(realpathSync(existing), realpathSync(this.root)))
      throw new Error(`${relative} leads outside the worktree through a symlink`);
    return target;
  }

  async list(dir = "."): Promise<string> {
    const out: string[] = [];
    const walk = async (abs: string, depth: number) => {
      if (out.length >= 500) return;
      for (const entry of (await readdir(abs, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
        if (entry.name === ".git" || entry.name === "node_modules") continue;
        const full = path.join(abs, entry.name);
        out.push(`${path.relative(this.root, full)}${entry.isDirectory() ? "/" : ""}`);
        if (entry.isDirectory() && depth < 3) await walk(full, depth + 1);
      }
    };
    await walk(this.resolve(dir), 0);
    return out.join("\n") || "(empty)";
  }

  async read(file: string): Promise<string> {
    const abs = this.resolve(file);
    const info = await stat(abs);
    if (info.size > 512 * 1024) throw new Error(`${file} is ${info.size} bytes; read_file reads at most 512 KiB`);
    return readFile(abs, "utf8");
  }

  async write(file: string, content: string): Promise<"create" | "modify"> {
    const abs = this.resolve(file);
    const existed = await stat(abs).then(
      () => true,
      () => false,
    );
    await mkdir(path.dirname(abs), { recursive: true });
    await writeFile(abs, content);
    return existed ? "modify" : "create";
  }

  async append(file: string, text: string): Promise<void> {
    const abs = this.resolve(file);
    const before = await readFile(abs, "utf8").catch(() => "");
    await writeFile(abs, before ? `${before.replace(/\n?$/, "\n")}${text}` : text);
  }

  async edit(file: string, oldText: string, newText: string): Promise<void> {
    const content = await this.read(file);
    const count = content.split(oldText).length - 1;
    if (count === 0) throw new Error(`old_text was not found in ${file}`);
    if (count > 1) throw new Error(`old_text occurs ${count} times in ${file}; include more context so it is unique`);
    // A function replacement: "$&" and friends in new_text stay literal.
    await writeFile(
      this.resolve(file),
      content.replace(oldText, () => newText),
    );
  }

  async run(
    command: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<{ exitCode: number | null; output: string; timedOut: boolean }> {
    const lines: string[] = [];
    const result = await runProcess({
      shellCommand: command,
      cwd: this.root,
      env: this.options.env,
      sandbox: this.options.sandbox,
      timeoutMs,
      signal,
      // The model sees 150 lines of it at most; a command printing gigabytes must not fill the worker's memory first.
      maxOutputBytes: 4 * 1024 * 1024,
      onLine: (_, line) => lines.push(line),
    });
    const output =
      lines.length > 200
        ? [...lines.slice(0, 50), `… ${lines.length - 150} lines cut …`, ...lines.slice(-100)].join("\n")
        : lines.join("\n");
    return { exitCode: result.exitCode, output, timedOut: result.timedOut };
  }
}

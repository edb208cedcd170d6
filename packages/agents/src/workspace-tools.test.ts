import { mkdir, mkdtemp, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Workspace } from "./workspace-tools.ts";

describe("Workspace: the built-in agent's file tools stay in the worktree", () => {
  let root: string;
  let outside: string;
  let ws: Workspace;
  beforeAll(async () => {
    const base = await mkdtemp(path.join(tmpdir(), "loopy-ws-"));
    root = path.join(base, "worktree");
    outside = path.join(base, "outside");
    await mkdir(path.join(root, "src"), { recursive: true });
    await mkdir(outside);
    await writeFile(path.join(outside, "secret.txt"), "outside\n");
    await writeFile(path.join(root, "src", "a.ts"), "export const a = 1;\n");
    await symlink(outside, path.join(root, "escape"));
    await symlink(path.join(outside, "secret.txt"), path.join(root, "secret-link.txt"));
    await symlink(path.join(outside, "not-yet.txt"), path.join(root, "dangling.txt"));
    await symlink(path.join(root, "src"), path.join(root, "src-link"));
    ws = new Workspace(root);
  });

  it("reads and writes inside, by relative or absolute path, and through symlinks that stay inside", async () => {
    expect(await ws.read("src/a.ts")).toContain("a = 1");
    expect(await ws.read(path.join(root, "src/a.ts"))).toContain("a = 1");
    expect(await ws.write("src/new/b.ts", "b\n")).toBe("create");
    expect(await ws.read("src-link/new/b.ts")).toBe("b\n");
    expect(await ws.read("src/../src/a.ts")).toContain("a = 1");
  });

  it.each([
    ["../outside/secret.txt", /outside the worktree/],
    ["src/../../outside/secret.txt", /outside the worktree/],
    ["/etc/passwd", /outside the worktree/],
    ["escape/secret.txt", /through a symlink/],
    ["escape/new-file.txt", /through a symlink/],
    ["escape/deeper/new-file.txt", /through a symlink/],
    ["secret-link.txt", /through a symlink/],
    ["dangling.txt", /symlink to a missing file/],
    [".git/config", /\.git folder is off limits/],
    ["src/.GIT/hooks/pre-commit", /\.git folder is off limits/],
  ])("refuses %s", async (p, message) => {
    await expect(ws.read(p)).rejects.toThrow(message);
    await expect(ws.write(p, "pwned\n")).rejects.toThrow(message);
    await expect(ws.edit(p, "outside", "pwned")).rejects.toThrow(message);
    await expect(ws.append(p, "pwned\n")).rejects.toThrow(message);
  });

  it("leaves everything outside untouched", async () => {
    expect(await readFile(path.join(outside, "secret.txt"), "utf8")).toBe("outside\n");
    await expect(readFile(path.join(outside, "not-yet.txt"), "utf8")).rejects.toThrow(/ENOENT/);
    await expect(readFile(path.join(outside, "new-file.txt"), "utf8")).rejects.toThrow(/ENOENT/);
  });

  it("lists without following a symlink out", async () => {
    const listing = await ws.list(".");
    expect(listing).toContain("src/a.ts");
    expect(listing).not.toContain("secret.txt\n");
    await expect(ws.list("escape")).rejects.toThrow(/through a symlink/);
  });
});

import { mkdtemp, mkdir, rm, stat, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensureLoopyHome } from "./home.ts";

describe("ensureLoopyHome", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "loopy-home-test-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const mode = async (p: string) => (await stat(p)).mode & 0o777;

  it("creates the folder (and missing parents) 0700, silently", async () => {
    const lines: string[] = [];
    const home = path.join(dir, "a", ".loopy");
    await ensureLoopyHome(home, (l) => lines.push(l));
    expect(await mode(home)).toBe(0o700);
    expect(lines).toEqual([]);
  });

  it("tightens an existing folder others may enter, with one log line; a 0700 one is left alone", async () => {
    const home = path.join(dir, ".loopy");
    await mkdir(home);
    await chmod(home, 0o755);
    const lines: string[] = [];
    await ensureLoopyHome(home, (l) => lines.push(l));
    expect(await mode(home)).toBe(0o700);
    expect(lines).toEqual([`Loopy home ${home} was mode 0755; now 0700 (only its owner may enter it)`]);
    await ensureLoopyHome(home, (l) => lines.push(l));
    expect(lines).toHaveLength(1);
  });
});

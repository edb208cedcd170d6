import { chmod, mkdir, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { privateDir, readOrCreatePassword } from "./secrets.ts";

describe("password files", () => {
  it("generates 32 random bytes (base64url) once, in a 0600 file, and reads the same password after", async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), "loopy-secret-")), "db-password");
    const [a, b] = await Promise.all([readOrCreatePassword(file), readOrCreatePassword(file)]);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b).toBe(a);
    expect(await readOrCreatePassword(file)).toBe(a);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, "utf8")).trim()).toBe(a);
  });

  it("refuses a file that group or others can read, and one that does not hold a password", async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), "loopy-secret-")), "redis-password");
    await readOrCreatePassword(file);
    await chmod(file, 0o640);
    await expect(readOrCreatePassword(file)).rejects.toThrow(/can be read by other users \(mode 0640\).*chmod 600/);
    await chmod(file, 0o604);
    await expect(readOrCreatePassword(file)).rejects.toThrow(/can be read by other users/);
    await writeFile(file, "short pass\n", { mode: 0o600 });
    await chmod(file, 0o600);
    await expect(readOrCreatePassword(file)).rejects.toThrow(/must hold one password/);
  });

  it("makes data folders 0700, narrowing one an earlier version left wider", async () => {
    const dir = path.join(await mkdtemp(path.join(tmpdir(), "loopy-secret-")), "pgdata");
    await privateDir(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const wide = path.join(path.dirname(dir), "redis");
    await mkdir(wide, { mode: 0o755 });
    await privateDir(wide);
    expect((await stat(wide)).mode & 0o777).toBe(0o700);
  });
});

import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openSecret, sealSecret } from "./crypto.ts";
import { ensureMasterKey, loadMasterKey, MASTER_KEY_FILE } from "./master-key.ts";
import { secretNameProblem } from "./names.ts";

describe("sealSecret / openSecret (AES-256-GCM)", () => {
  const key = randomBytes(32);

  it("round-trips, with a fresh 12-byte IV every time", () => {
    const a = sealSecret(key, "sk-live-1234567890", "OPENAI_API_KEY");
    const b = sealSecret(key, "sk-live-1234567890", "OPENAI_API_KEY");
    expect(Buffer.from(a.iv, "base64")).toHaveLength(12);
    expect(a.iv).not.toBe(b.iv);
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(a.ciphertext).not.toContain("sk-live");
    expect(openSecret(key, a, "OPENAI_API_KEY")).toBe("sk-live-1234567890");
    expect(openSecret(key, sealSecret(key, "ünïcødé ✓ value", "X"), "X")).toBe("ünïcødé ✓ value");
  });

  it("fails with the wrong key", () => {
    const sealed = sealSecret(key, "sk-live-1234567890", "K");
    expect(() => openSecret(randomBytes(32), sealed, "K")).toThrow();
  });

  it("fails when the ciphertext, the tag or the IV was changed", () => {
    const sealed = sealSecret(key, "sk-live-1234567890", "K");
    const flip = (b64: string) => {
      const bytes = Buffer.from(b64, "base64");
      bytes[0] = (bytes[0] ?? 0) ^ 1;
      return bytes.toString("base64");
    };
    expect(() => openSecret(key, { ...sealed, ciphertext: flip(sealed.ciphertext) }, "K")).toThrow();
    expect(() => openSecret(key, { ...sealed, tag: flip(sealed.tag) }, "K")).toThrow();
    expect(() => openSecret(key, { ...sealed, iv: flip(sealed.iv) }, "K")).toThrow();
  });

  it("fails under another name (a row copied to another secret does not decrypt)", () => {
    expect(() => openSecret(key, sealSecret(key, "sk-live-1234567890", "A_KEY"), "B_KEY")).toThrow();
  });
});

describe("loadMasterKey", () => {
  it("creates $LOOPY_HOME/master.key with mode 0600 on first use and reads it back after", async () => {
    const home = path.join(await mkdtemp(path.join(tmpdir(), "loopy-key-")), "home");
    const [a, b] = await Promise.all([loadMasterKey({ loopyHome: home }), loadMasterKey({ loopyHome: home })]);
    expect(a).toHaveLength(32);
    expect(a.equals(b)).toBe(true);
    const file = path.join(home, MASTER_KEY_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(Buffer.from((await readFile(file, "utf8")).trim(), "base64").equals(a)).toBe(true);
  });

  it("prefers LOOPY_MASTER_KEY (base64 or hex) and creates no file then", async () => {
    const home = await mkdtemp(path.join(tmpdir(), "loopy-key-"));
    const bytes = randomBytes(32);
    expect((await loadMasterKey({ value: bytes.toString("hex"), loopyHome: home })).equals(bytes)).toBe(true);
    expect((await loadMasterKey({ value: bytes.toString("base64"), loopyHome: `${home}/` })).equals(bytes)).toBe(true);
    await expect(stat(path.join(home, MASTER_KEY_FILE))).rejects.toThrow(/ENOENT/);
    await expect(loadMasterKey({ value: "too short", loopyHome: home })).rejects.toThrow(/32 bytes/);
  });

  it("refuses a key file others can read, saying how to fix it", async () => {
    const home = await mkdtemp(path.join(tmpdir(), "loopy-key-"));
    const file = path.join(home, MASTER_KEY_FILE);
    await writeFile(file, `${randomBytes(32).toString("base64")}\n`);
    await chmod(file, 0o644);
    await expect(loadMasterKey({ loopyHome: home })).rejects.toThrow(`run "chmod 600 ${file}"`);
    await chmod(file, 0o600);
    expect(await loadMasterKey({ loopyHome: home })).toHaveLength(32);
  });
});

describe("ensureMasterKey (at start)", () => {
  it("creates the key file (0600, in a 0700 home it makes) once and says so only then", async () => {
    const home = path.join(await mkdtemp(path.join(tmpdir(), "loopy-key-")), "home");
    const file = path.join(home, MASTER_KEY_FILE);
    expect(await ensureMasterKey({ loopyHome: home })).toEqual({ file, created: true });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(home)).mode & 0o777).toBe(0o700);
    const before = await readFile(file, "utf8");
    expect(await ensureMasterKey({ loopyHome: home })).toEqual({ file, created: false });
    expect(await readFile(file, "utf8")).toBe(before);
  });

  it("with LOOPY_MASTER_KEY writes no file; a key file others can read stops the start", async () => {
    const home = await mkdtemp(path.join(tmpdir(), "loopy-key-"));
    expect(await ensureMasterKey({ value: randomBytes(32).toString("hex"), loopyHome: home })).toEqual({
      file: null,
      created: false,
    });
    await expect(stat(path.join(home, MASTER_KEY_FILE))).rejects.toThrow(/ENOENT/);
    await writeFile(path.join(home, MASTER_KEY_FILE), `${randomBytes(32).toString("base64")}\n`, { mode: 0o644 });
    await chmod(path.join(home, MASTER_KEY_FILE), 0o644);
    await expect(ensureMasterKey({ loopyHome: home })).rejects.toThrow(/chmod 600/);
  });
});

describe("secret names", () => {
  it("are environment variable names, and not Loopy's own or the ones every child inherits", () => {
    expect(secretNameProblem("OPENAI_API_KEY")).toBeNull();
    expect(secretNameProblem("_X1")).toBeNull();
    for (const bad of ["lower", "1ABC", "A-B", "A B", "", "X".repeat(129)])
      expect(secretNameProblem(bad), bad).toMatch(/not a secret name/);
    for (const reserved of [
      "DATABASE_URL",
      "REDIS_URL",
      "LOOPY_MASTER_KEY",
      "LOOPY_TOKEN",
      "PATH",
      "HOME",
      "LD_PRELOAD",
      "NODE_OPTIONS",
    ]) {
      expect(secretNameProblem(reserved), reserved).toMatch(/reserved/);
    }
  });
});

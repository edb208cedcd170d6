import { createHash, randomBytes } from "node:crypto";
import { execFileSync, spawn } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeModelServer, type FakeModelServer } from "@loopy/fake-models/server";
import { sandboxStatus } from "@loopy/agents/sandbox";
import { createHarness, eventually, gitIn, makeRepo, type Harness } from "./harness.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Secrets end to end: stored encrypted, given to the agent that names them
 * (and only to it: not to checkpoints, not to anyone's browser), and redacted
 * from everything stored or returned for the run. Proof the agent had the
 * value: the sha256 it wrote into the worktree shows in the diff.
 */
describe("secrets", () => {
  let h: Harness;
  let model: FakeModelServer;
  const value = `sk-loopy-${randomBytes(12).toString("hex")}`;
  const sha = createHash("sha256").update(value).digest("hex");
  const forms = [value, Buffer.from(value).toString("base64")];
  // Loopy's own settings in the worker's environment, which no child may see.
  const workerSecrets = {
    DATABASE_URL: "postgres://leak@db.invalid/x",
    LOOPY_TOKEN: "loopy_tok_do_not_leak",
    OTHER_WORKER_KEY: "worker-key-do-not-leak",
  };
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    for (const [k, v] of Object.entries(workerSecrets)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    h = await createHarness();
    model = await startFakeModelServer();
    // As apps/worker runs by default: inside bubblewrap when it works here.
    await h.startWorker(4, { sandbox: "auto" });
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await h?.close();
    await model?.close();
  });

  const settled = (runId: string) =>
    eventually(
      async () => {
        const run = await h.api.runs.get({ runId });
        return ["succeeded", "failed", "cancelled", "awaiting_review", "needs_attention"].includes(run.status)
          ? run
          : undefined;
      },
      60_000,
      `run ${runId} to settle`,
    );

  /** Every stored row and every API response about the run, as one text (superjson: what goes over the wire). */
  async function everythingAbout(runId: string, projectId: string): Promise<string> {
    const db = h.services.db;
    const responses = await Promise.all([
      h.api.runs.get({ runId }),
      h.api.runs.eventLog({ runId, limit: 5000 }),
      h.api.runs.turns({ runId }),
      h.api.runs.checks({ runId }),
      h.api.runs.diff({ runId }),
      h.api.runs.turnDiff({ runId, turnIndex: 0 }),
      h.api.runs.list({}),
      h.api.review.inbox(),
      h.api.overview.get(),
      h.api.secrets.list(),
      h.api.projects.memory({ project: projectId }).catch(() => null),
      h.api.auth.audit({}).catch(() => null),
    ]);
    const rows = await Promise.all([
      db.runEvent.findMany({ where: { runId } }),
      db.checkpointResult.findMany({ where: { runId } }),
      db.runTurn.findMany({ where: { runId } }),
      db.run.findMany({ where: { id: runId } }),
      db.task.findMany({ where: { runs: { some: { id: runId } } } }),
      db.projectMemory.findMany({ where: { projectId } }),
      db.auditEntry.findMany({}),
      db.secret.findMany({}),
    ]);
    return superjson.stringify([responses, rows]);
  }

  it("stores a secret encrypted and never returns its value; admins only; set is audited without the value", async () => {
    expect(await h.api.secrets.set({ name: "MY_KEY", value })).toEqual({ name: "MY_KEY" });
    const listed = await h.api.secrets.list();
    expect(listed.map((s) => s.name)).toEqual(["MY_KEY"]);
    expect(Object.keys(listed[0]!).sort()).toEqual(["createdAt", "name", "updatedAt", "updatedBy"]);
    const row = await h.services.db.secret.findUniqueOrThrow({ where: { name: "MY_KEY" } });
    expect(JSON.stringify(row)).not.toContain(value);
    expect((await stat(path.join(h.home, "master.key"))).mode & 0o777).toBe(0o600);

    const operator = h.apiAs({ userId: null, name: "op", role: "operator", via: "token" });
    await expect(operator.secrets.list()).rejects.toThrow(/needs the admin role/);
    await expect(operator.secrets.set({ name: "MY_KEY", value: "overwritten" })).rejects.toThrow(
      /needs the admin role/,
    );

    const audit = await h.services.db.auditEntry.findFirstOrThrow({ where: { action: "secrets.set" } });
    expect(audit).toMatchObject({ targetId: "MY_KEY", detail: { name: "MY_KEY", value: "[hidden]" } });

    await expect(h.api.secrets.set({ name: "DATABASE_URL", value: "postgres://x" })).rejects.toThrow(/reserved/);
    await expect(h.api.secrets.set({ name: "lower", value: "abcdefgh" })).rejects.toThrow(/not a secret name/);
    await expect(h.api.secrets.set({ name: "TINY", value: "abc" })).rejects.toThrow(/shorter than 6/);
    await expect(h.api.secrets.set({ name: "HUGE", value: "x".repeat(70_000) })).rejects.toThrow(/larger than 64 KiB/);
    await expect(h.api.secrets.delete({ name: "NOPE" })).rejects.toThrow(/No secret named NOPE/);
  });

  it("refuses a run or a profile that names a secret nobody stored", async () => {
    const repo = await makeRepo();
    const p = await h.api.projects.add({ path: repo, name: `sec-missing-${path.basename(repo)}` });
    await expect(h.api.runs.launch({ project: p.name, command: "true", secrets: ["NOT_STORED"] })).rejects.toThrow(
      /No stored secret named NOT_STORED/,
    );
    await expect(
      h.api.profiles.add({ name: "needs-unstored", adapter: "command", config: { secrets: ["NOT_STORED"] } }),
    ).rejects.toThrow(/not stored: NOT_STORED/);
  });

  it("gives the command agent its secret, not its checkpoints; nothing stored or returned holds the value", async () => {
    const repo = await makeRepo();
    const p = await h.api.projects.add({
      path: repo,
      name: `sec-cmd-${path.basename(repo)}`,
      // A checkpoint that prints its environment, and passes only when the secret is not in it.
      checkpoints: [
        {
          name: "no-secret-here",
          kind: "command",
          command: 'env; echo "checkpoint sees [$MY_KEY] [$DATABASE_URL]"; test -z "$MY_KEY"',
        },
      ],
    });
    const command = [
      "env",
      'echo "the key is $MY_KEY"',
      'printf %s "$MY_KEY" | base64',
      'echo "Remember: the key is $MY_KEY" > LOOPY_NOTES.md',
      'printf %s "$MY_KEY" | sha256sum | cut -d" " -f1 > key.sha256',
      'echo "db=[$DATABASE_URL] token=[$LOOPY_TOKEN] other=[$OTHER_WORKER_KEY]"',
    ].join("; ");
    const { id } = await h.api.runs.launch({ project: p.name, command, secrets: ["MY_KEY"] });
    const run = await settled(id);
    expect(run).toMatchObject({ status: "awaiting_review", checksPassed: true });

    // The agent had it: its hash is in the diff, and the lines that printed it are there, redacted.
    const diff = await h.api.runs.diff({ runId: id });
    expect(diff.diff).toContain(`+${sha}`);
    const lines = (await h.api.runs.eventLog({ runId: id, limit: 5000 })).flatMap((e) =>
      e.event.type === "log" ? [e.event.line] : [],
    );
    expect(lines).toContain("the key is [redacted:MY_KEY]");
    expect(lines).toContain("MY_KEY=[redacted:MY_KEY]");
    expect(lines).toContain("[redacted:MY_KEY]");
    // Loopy's own settings and the worker's other variables never reached it.
    expect(lines).toContain("db=[] token=[] other=[]");
    expect((await h.api.runs.checks({ runId: id }))[0]!.output).toContain("checkpoint sees [] []");
    expect((await h.api.projects.memory({ project: p.name })).current?.content ?? "").toContain(
      "the key is [redacted:MY_KEY]",
    );

    const all = await everythingAbout(id, p.id);
    for (const form of forms)
      expect(
        all.includes(form),
        `the secret (${form === value ? "raw" : "base64"}) appears in a stored row or an API response`,
      ).toBe(false);
    for (const leak of Object.values(workerSecrets)) expect(all.includes(leak), leak).toBe(false);
  }, 90_000);

  it("redacts a secret however the agent prints it, and commits a file that holds it redacted, stopping for a human", async () => {
    const repo = await makeRepo();
    const p = await h.api.projects.add({ path: repo, name: `sec-forms-${path.basename(repo)}` });
    const reversed = [...value].reverse().join("");
    const hex = Buffer.from(value).toString("hex");
    const spaced = [...value].join(" ");
    const command = [
      'printf "%s\\n" "$(printf %s "$MY_KEY" | rev)"',
      'printf %s "$MY_KEY" | od -An -tx1 | tr -d " \\n"; echo',
      'printf %s "$MY_KEY" | sed "s/./& /g"; echo',
      // Most of it (a substring of 22 of its 33 characters).
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, the shell expands it
      'echo "part: ${MY_KEY:4:22}"',
      // Written to files: whole, and split across two lines.
      'printf "config: key=%s\\n" "$MY_KEY" > leak.env',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, the shell expands it
      'printf "%s\\n%s\\n" "${MY_KEY:0:16}" "${MY_KEY:16}" > split.txt',
      "echo fine > ok.txt",
    ].join("; ");
    const { id } = await h.api.runs.launch({ project: p.name, command, secrets: ["MY_KEY"] });
    const run = await settled(id);
    // The files were committed with the value redacted, and a human is asked to look before approving.
    expect(run.status).toBe("needs_attention");
    expect(run.statusReason).toMatch(/a secret's value was written to .*leak\.env \(MY_KEY\).*split\.txt \(MY_KEY\)/);
    expect(gitIn(repo, "show", `${run.branch}:leak.env`)).toBe("config: key=[redacted:MY_KEY]");
    expect(gitIn(repo, "show", `${run.branch}:ok.txt`)).toBe("fine");
    const history = gitIn(repo, "log", "-p", "--all");
    for (const form of [value, reversed, hex]) expect(history.includes(form), form).toBe(false);
    // Not even as an unreachable object: the files were redacted before git stored anything (later sandboxes read these objects).
    const objects = execFileSync("git", ["cat-file", "--batch-all-objects", "--batch"], {
      cwd: repo,
      maxBuffer: 64 * 1024 * 1024,
    }).toString("latin1");
    expect(objects.includes(value)).toBe(false);
    // The workspace holds what was committed.
    expect(await readFile(path.join(h.home, "worktrees", id, "leak.env"), "utf8")).toBe(
      "config: key=[redacted:MY_KEY]\n",
    );
    const head = (await h.services.db.run.findUniqueOrThrow({ where: { id } })).headSha!;
    const lines = await h.api.runs.fileLines({ runId: id, commit: head, path: "leak.env", start: 1, end: 1 });
    expect(JSON.stringify(lines)).toContain("[redacted:MY_KEY]");
    // The printed forms are redacted in the log.
    const log = (await h.api.runs.eventLog({ runId: id, limit: 5000 })).flatMap((e) =>
      e.event.type === "log" ? [e.event.line] : [],
    );
    expect(log.filter((l) => l.includes("[redacted:MY_KEY]")).length).toBeGreaterThanOrEqual(4);
    const all = await everythingAbout(id, p.id);
    for (const form of [...forms, reversed, hex, spaced, value.slice(4, 26)])
      expect(all.includes(form), `"${form}" appears in a stored row or an API response`).toBe(false);
  }, 90_000);

  it("gives Loopy's own agent its profile's secret as the API key and to its commands, redacted everywhere", async () => {
    await h.api.profiles.add({
      name: "oai-with-key",
      adapter: "openai-compatible",
      config: { model: "fake-model", baseUrl: `${model.url}/v1`, secrets: ["MY_KEY"], maxTurns: 10 },
    });
    const repo = await makeRepo();
    const p = await h.api.projects.add({ path: repo, name: `sec-oai-${path.basename(repo)}` });
    const { id } = await h.api.runs.launch({
      project: p.name,
      agent: "oai-with-key",
      prompt: [
        "Record the key's hash.",
        '@run printf %s "$MY_KEY" | sha256sum | cut -d" " -f1 > oai.sha256; echo "value: $MY_KEY"; env | grep MY_KEY',
        "@say Recorded it.",
      ].join("\n"),
    });
    const run = await settled(id);
    expect(run.status, run.statusReason ?? "").toBe("awaiting_review");
    expect((await h.api.runs.diff({ runId: id })).diff).toContain(`+${sha}`);
    // Its command printed the value back to the model (which is where an agent's tool output goes), not into Loopy's log.
    expect(JSON.stringify(model.requests)).toContain(`value: ${value}`);
    const all = await everythingAbout(id, p.id);
    for (const form of forms)
      expect(
        all.includes(form),
        `the secret (${form === value ? "raw" : "base64"}) appears in a stored row or an API response`,
      ).toBe(false);
  }, 90_000);

  it("loopy secret set / secrets / secret delete: value from stdin, names only out", async () => {
    const { url, token } = await h.serveApi("admin");
    const loopy = (args: string[], stdin?: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [path.join(root, "packages/cli/bin/loopy.js"), ...args], {
          env: { PATH: process.env.PATH ?? "", LOOPY_URL: url, LOOPY_TOKEN: token },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
        child.stdin.end(stdin ?? "");
      });
    const cliValue = `cli-secret-${randomBytes(8).toString("hex")}`;
    const set = await loopy(["secret", "set", "CLI_KEY", "--json"], `${cliValue}\n`);
    expect(set.stderr).toBe("");
    expect(JSON.parse(set.stdout)).toEqual({ name: "CLI_KEY" });
    const listed = await loopy(["secrets"]);
    expect(listed.stdout).toContain("CLI_KEY");
    expect(listed.stdout).not.toContain(cliValue);
    const json = JSON.parse((await loopy(["secrets", "--json"])).stdout) as Array<{ name: string }>;
    expect(json.map((s) => s.name)).toEqual(["CLI_KEY", "MY_KEY"]);
    // One trailing newline was dropped: the stored value is exactly what was piped.
    const { resolveSecrets } = await import("@loopy/core/secrets");
    expect(await resolveSecrets(h.services.db, { loopyHome: h.home }, ["CLI_KEY"])).toEqual({ CLI_KEY: cliValue });
    const empty = await loopy(["secret", "set", "EMPTY_KEY"], "");
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/no value on stdin/);
    expect((await loopy(["secret", "delete", "CLI_KEY"])).stdout).toContain("Deleted secret CLI_KEY");
    expect((await loopy(["secret", "delete", "CLI_KEY"])).stderr).toMatch(/No secret named CLI_KEY/);
  }, 60_000);

  it("a command run that tries to write outside its worktree fails there and leaves the file untouched (bubblewrap)", async (ctx) => {
    const status = await sandboxStatus();
    if (!status.ok) ctx.skip(`no sandbox here: ${status.reason}`);
    const { mkdtemp, readFile, writeFile } = await import("node:fs/promises");
    const outsideDir = await mkdtemp(path.join("/var/tmp", "loopy-outside-"));
    const outside = path.join(outsideDir, "victim.txt");
    await writeFile(outside, "untouched\n");
    const repo = await makeRepo();
    const p = await h.api.projects.add({
      path: repo,
      name: `sec-sbx-${path.basename(repo)}`,
      checkpoints: [{ name: "no-escape", kind: "command", command: `echo check >> ${outside}` }],
    });
    const escaping = await h.api.runs.launch({
      project: p.name,
      command: `echo inside > ok.txt && echo pwned > ${outside}`,
    });
    expect(await settled(escaping.id)).toMatchObject({ status: "failed", statusReason: "command exited with code 1" });
    const inside = await h.api.runs.launch({
      project: p.name,
      command:
        "echo inside > ok.txt && git add ok.txt && git -c user.name=A -c user.email=a@example.com commit -qm 'agent commit'",
    });
    const done = await settled(inside.id);
    // The command's own commit worked inside the sandbox; the checkpoint that writes outside failed.
    expect(done).toMatchObject({ status: "needs_attention", checksPassed: false });
    expect((await h.api.runs.diff({ runId: inside.id })).diff).toContain("+inside");
    expect((await h.api.runs.checks({ runId: inside.id }))[0]!.output).toMatch(/Read-only file system/);
    expect(await readFile(outside, "utf8")).toBe("untouched\n");
  }, 60_000);
});

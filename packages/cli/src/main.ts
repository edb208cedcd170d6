import { parseArgs } from "node:util";
import { createLoopyClient, describeError, type LoopyClient } from "./client.ts";
import { runTimes, table, time } from "./format.ts";
import { experimentsCommand, exportCommand, importCommand, researchCommand, ResearchUsageError } from "./research.ts";
import { fleetCommand, FleetUsageError } from "./fleet.ts";
import { accessCommand, AccessUsageError } from "./access.ts";
import { secretsCommand, SecretsUsageError } from "./secrets.ts";
import { escapeJsonControls, guardTerminal } from "./terminal.ts";

const HELP = `loopy: control a running Loopy (LOOPY_URL, default http://127.0.0.1:3000)
Authenticates with LOOPY_TOKEN, else the token file in LOOPY_HOME (default ./.loopy) that npm start writes.

Usage:
  loopy project add <path> [--name N] [--check "<cmd>"]...
                                        register a local git repository (each --check is a required checkpoint)
  loopy projects                        list projects
  loopy profile add NAME --adapter A [--model M] [--base-url URL] [--max-turns N] [--secret NAME]... [--budget-usd X]
                                        save an agent profile (adapters: command, claude-code, codex, gemini, opencode, openai-compatible);
                                        each --secret is a stored secret, else the worker's environment variable of that name
  loopy profiles                        list agent profiles
  loopy run --project P --command "<shell>" [--base REF] [--timeout DUR] [--secret NAME]... [--wait]
  loopy run --project P --agent PROFILE --prompt "..." [--base REF] [--timeout DUR] [--secret NAME]... [--wait]
                                        launch a run; --wait streams its log and returns when it needs a human or ends;
                                        each --secret (a stored secret) goes into the agent's environment, and only there
  loopy runs [--project P] [--status S] [--limit N]
                                        list runs, newest first
  loopy show <run-id>                   a run's details
  loopy logs <run-id> [--follow] [--raw] a run's log; --follow streams until the run needs a human or ends;
                                        --raw keeps the escape sequences agents printed
  loopy diff <run-id>                   the run's unified diff
  loopy cancel <run-id>                 cancel a queued or running run
  loopy checks <run-id>                 every checkpoint result of every turn
  loopy review list                     runs waiting for review or attention, best first
  loopy review approve <run-id> [--discard-comments]
                                        merge the run's branch into the project's default branch; refused while
                                        comments are not sent yet, unless --discard-comments (send them with request-changes)
  loopy review comment <run-id> --file F --line N --message TEXT
                                        a comment on line N (new version) of F in the run's diff, pending until sent
  loopy review comments <run-id>        the run's comments: id, state (pending, sent, resolved, discarded), file:line, text
  loopy review reject <run-id> [--message WHY]
  loopy review request-changes <run-id> --message "..." [--comment FILE:LINE:TEXT]... [--wait]
                                        send comments back to the same agent session
  loopy research --project P --command "<cmd>" --metric NAME --direction min|max --budget DUR
                 [--max-experiments N] (--optimizer random|tpe --space FILE | --agent PROFILE) [--wait]
                 [--program FILE] [--editable GLOB]... [--protected FILE]... [--params-file F]
                 [--noise-repeats K] [--confirm N] [--seed S] [--slot gpu0,gpu1] [--wall-clock DUR]
                 [--cost-limit USD] [--hard-kill X] [--base REF] [--name N]
                                        start a research loop; --wait prints each experiment and returns when it ends
  loopy research list [--project P] | show <loop-id> | pause <loop-id> | resume <loop-id> | cancel <loop-id>
  loopy fleet launch --project P (--agent PROFILE[,PROFILE...] --prompt "..." | --agent command --command "<shell>")
                     --count N [--concurrency C] [--budget-usd X] [--budget-tokens N] [--wall-clock DUR]
                     [--metric NAME --direction min|max] [--tag T]... [--secret NAME]... [--name N] [--wait]
                                        launch a best-of-N fleet (agents cycled over the members; each gets
                                        LOOPY_FLEET_ID and LOOPY_MEMBER_INDEX); --wait returns when it ends
  loopy fleet show <fleet-id>           members with status, checks, diff, cost and rank
  loopy fleet list | pause <fleet-id> | resume <fleet-id> | cancel <fleet-id>
  loopy fleet approve <fleet-id> [--run RUN]
                                        merge the top-ranked (or chosen) member, reject the others
  loopy experiments <loop-id>           a loop's experiments: status, metric, delta against the best
  loopy export <loop-id> --tsv          the loop as autoresearch's results.tsv
  loopy import <file.tsv> --project P [--direction min|max] [--name N]
                                        a results.tsv made elsewhere, as a completed loop to chart
  loopy secrets                         names of the stored secrets (never values; admin)
  loopy secret set NAME                 store a secret (a model API key), value on stdin, encrypted; replaces one of that name
  loopy secret delete NAME
  loopy whoami                          who the token belongs to, and its role
  loopy sign-in-link                    a one-time link that signs a browser in as the token's user (valid 15 minutes)
  loopy users | user add NAME [--role R] | user passwd NAME | user role NAME --role R | user disable|enable NAME
                                        manage users (passwords from stdin); roles: viewer, reviewer, operator, admin
  loopy tokens | token create --name WHAT [--user U] [--role R] | token revoke <token-id>
                                        API tokens for the CLI and automation (shown once, stored hashed)
  loopy audit [--action PATH|PREFIX.] [--actor NAME] [--limit N]
                                        who launched, reviewed, approved, merged, changed what, and when

Every command takes --json and then prints one JSON document.
Terminal escape sequences and control characters (from agents' output) are removed from what is printed; --raw keeps them.
Exit codes: 0 ok, 1 error, 2 bad usage, 3 the waited-for run failed, was cancelled or needs attention (a fleet: failed or was cancelled).`;

class UsageError extends Error {}

const TERMINAL = new Set(["succeeded", "failed", "cancelled", "merged", "rejected"]);
/** States where --wait returns: a human is needed, or the run is over. */
const SETTLED = new Set([...TERMINAL, "awaiting_review", "needs_attention"]);

const { values: flags, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        json: { type: "boolean", default: false },
        raw: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
        name: { type: "string" },
        project: { type: "string", short: "p" },
        agent: { type: "string" },
        command: { type: "string", short: "c" },
        prompt: { type: "string" },
        check: { type: "string", multiple: true },
        adapter: { type: "string" },
        model: { type: "string" },
        "base-url": { type: "string" },
        "max-turns": { type: "string" },
        "budget-usd": { type: "string" },
        secret: { type: "string", multiple: true },
        message: { type: "string", short: "m" },
        comment: { type: "string", multiple: true },
        file: { type: "string" },
        line: { type: "string" },
        "discard-comments": { type: "boolean", default: false },
        base: { type: "string" },
        timeout: { type: "string" },
        wait: { type: "boolean", default: false },
        follow: { type: "boolean", short: "f", default: false },
        status: { type: "string" },
        limit: { type: "string" },
        metric: { type: "string" },
        direction: { type: "string" },
        budget: { type: "string" },
        "max-experiments": { type: "string" },
        optimizer: { type: "string" },
        space: { type: "string" },
        program: { type: "string" },
        editable: { type: "string", multiple: true },
        protected: { type: "string", multiple: true },
        "params-file": { type: "string" },
        seed: { type: "string" },
        "noise-repeats": { type: "string" },
        confirm: { type: "string" },
        slot: { type: "string", multiple: true },
        "wall-clock": { type: "string" },
        "cost-limit": { type: "string" },
        "hard-kill": { type: "string" },
        tsv: { type: "boolean", default: false },
        count: { type: "string" },
        concurrency: { type: "string" },
        "budget-tokens": { type: "string" },
        tag: { type: "string", multiple: true },
        run: { type: "string" },
        role: { type: "string" },
        user: { type: "string" },
        action: { type: "string" },
        actor: { type: "string" },
      },
    });
  } catch (error) {
    process.stderr.write(`loopy: ${(error as Error).message}\n`);
    process.exit(2);
  }
})();

// What agents wrote reaches the terminal without its escape sequences (see terminal.ts), unless --raw.
if (!flags.raw) {
  guardTerminal(process.stdout);
  guardTerminal(process.stderr);
}

const baseUrl = process.env.LOOPY_URL || "http://127.0.0.1:3000";
const client = createLoopyClient(baseUrl);

function print(json: unknown, human: () => string) {
  process.stdout.write(flags.json ? `${escapeJsonControls(JSON.stringify(json, null, 2))}\n` : `${human()}\n`);
}

function need(value: string | undefined, what: string): string {
  if (!value) throw new UsageError(`missing ${what}`);
  return value;
}

type StoredEvent = Awaited<ReturnType<LoopyClient["runs"]["eventLog"]["query"]>>[number];

function eventLine(e: StoredEvent): string | null {
  const ev = e.event;
  switch (ev.type) {
    case "log":
      return ev.line;
    case "status":
      return `● ${ev.status}${ev.reason ? ` — ${ev.reason}` : ""}`;
    case "command":
      return `$ ${ev.command}  → ${ev.exitCode === null ? "killed" : `exit ${ev.exitCode}`}`;
    case "diff":
      return `diff: ${ev.files} file(s), +${ev.additions} -${ev.deletions}`;
    case "cancel_requested":
      return "cancel requested";
    case "message":
      return ev.text;
    case "tool_call":
      return `→ ${ev.name} ${ev.summary}`;
    case "turn":
      return `── turn ${ev.index + 1} (${ev.kind.replace("_", " ")})`;
    case "checkpoint":
      return `${ev.passed ? "✓" : "✗"} checkpoint ${ev.name}${ev.required ? "" : " (optional)"}`;
    case "usage":
      return `usage: ${ev.inputTokens} in / ${ev.outputTokens} out${ev.costUsd !== undefined ? `, $${ev.costUsd.toFixed(4)}` : ""}`;
    case "error":
      return `error: ${ev.message}`;
    default:
      return null;
  }
}

/**
 * Streams a run's events until it settles (ends, or needs a human). Events up to
 * `afterId` are skipped, so a follow-up waits for its own turn's outcome.
 */
function follow(runId: string, onEvent: (e: StoredEvent) => void, stopAt = SETTLED, afterId?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sub = client.runs.events.subscribe(
      { runId, lastEventId: afterId ?? null },
      {
        onData: ({ data }) => {
          onEvent(data as StoredEvent);
          if (data.event.type === "status" && stopAt.has(data.event.status)) {
            sub.unsubscribe();
            resolve();
          }
        },
        onError: (error) => {
          sub.unsubscribe();
          reject(error);
        },
      },
    );
  });
}

async function main(): Promise<number> {
  const [command, ...args] = positionals;
  if (flags.help || !command) {
    process.stdout.write(`${HELP}\n`);
    return command || flags.help ? 0 : 2;
  }
  switch (command) {
    case "project": {
      if (args[0] !== "add")
        throw new UsageError(`unknown command "project ${args[0] ?? ""}" (did you mean "project add <path>"?)`);
      const { resolve } = await import("node:path");
      const checkpoints = (flags.check ?? []).map((command, i) => ({
        name: `check-${i + 1}`,
        kind: "command",
        command,
      }));
      const project = await client.projects.add.mutate({
        path: resolve(need(args[1], "<path>")),
        name: flags.name,
        checkpoints,
      });
      print(
        project,
        () => `Registered ${project.name} (${project.id}) at ${project.path}, default branch ${project.defaultBranch}`,
      );
      return 0;
    }
    case "projects": {
      const projects = await client.projects.list.query();
      print(projects, () =>
        projects.length === 0
          ? "No projects. Add one with: loopy project add <path>"
          : table(
              projects.map((p) => ({ id: p.id, name: p.name, branch: p.defaultBranch, path: p.path })),
              ["id", "name", "branch", "path"],
            ),
      );
      return 0;
    }
    case "profile": {
      if (args[0] !== "add")
        throw new UsageError(
          `unknown command "profile ${args[0] ?? ""}" (did you mean "profile add NAME --adapter A"?)`,
        );
      const number = (v: string | undefined, what: string) => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isFinite(n)) throw new UsageError(`${what} must be a number, got "${v}"`);
        return n;
      };
      const profile = await client.profiles.add.mutate({
        name: need(args[1], "NAME"),
        adapter: need(flags.adapter, "--adapter"),
        config: {
          ...(flags.model ? { model: flags.model } : {}),
          ...(flags["base-url"] ? { baseUrl: flags["base-url"] } : {}),
          ...(flags["max-turns"] ? { maxTurns: number(flags["max-turns"], "--max-turns") } : {}),
          ...(flags["budget-usd"] ? { budgetUsd: number(flags["budget-usd"], "--budget-usd") } : {}),
          ...(flags.secret?.length ? { secretNames: flags.secret } : {}),
        },
      });
      print(
        profile,
        () =>
          `Saved profile ${profile.name} (${profile.adapter}${profile.config.model ? `, ${profile.config.model}` : ""})`,
      );
      return 0;
    }
    case "profiles": {
      const profiles = await client.profiles.list.query();
      print(profiles, () =>
        profiles.length === 0
          ? "No profiles. Add one with: loopy profile add NAME --adapter claude-code --model M"
          : table(
              profiles.map((p) => ({
                name: p.name,
                adapter: p.adapter,
                model: p.config.model ?? "-",
                "base url": p.config.baseUrl ?? "-",
              })),
              ["name", "adapter", "model", "base url"],
            ),
      );
      return 0;
    }
    case "checks": {
      const checks = await client.runs.checks.query({ runId: need(args[0], "<run-id>") });
      print(checks, () =>
        checks.length === 0
          ? "No checkpoint ran for this run."
          : table(
              checks.map((c) => ({
                turn: String(c.turnIndex + 1),
                checkpoint: c.name,
                kind: c.kind,
                result: c.passed ? "pass" : c.required ? "FAIL" : "fail (optional)",
                time: `${c.durationMs}ms`,
              })),
              ["turn", "checkpoint", "kind", "result", "time"],
            ),
      );
      return 0;
    }
    case "review":
      return review(args);
    case "research":
      return researchCommand(client, args, flags, print);
    case "experiments":
      return experimentsCommand(client, args, print);
    case "fleet":
      return fleetCommand(client, args, flags, print);
    case "sign-in-link": {
      const { code, expiresAt } = await client.auth.signInLink.mutate();
      const link = `${baseUrl.replace(/\/+$/, "")}/login#code=${code}`;
      print({ link, expiresAt }, () => `${link}\n(one-time; valid until ${time(expiresAt)} UTC)`);
      return 0;
    }
    case "whoami":
    case "users":
    case "user":
    case "tokens":
    case "token":
    case "audit":
      return accessCommand(client, command, args, flags, print);
    case "secrets":
    case "secret":
      return secretsCommand(client, command, args, print);
    case "export":
      return exportCommand(client, args, flags, print);
    case "import":
      return importCommand(client, args, flags, print);
    case "run": {
      const run = await client.runs.launch.mutate({
        project: need(flags.project, "--project"),
        agent: flags.agent ?? "command",
        command: flags.command,
        prompt: flags.prompt,
        baseRef: flags.base,
        timeout: flags.timeout,
        secrets: flags.secret,
      });
      if (!flags.wait) {
        print(run, () => `Launched run ${run.id} (${run.status}) on ${run.project.name}, branch ${run.branch}`);
        return 0;
      }
      if (!flags.json) process.stderr.write(`Run ${run.id} launched; waiting for it to finish…\n`);
      await follow(run.id, (e) => {
        const line = flags.json ? null : eventLine(e);
        if (line !== null) process.stdout.write(`${line}\n`);
      });
      return finish(run.id);
    }
    case "runs": {
      const result = await client.runs.list.query({
        projectId: flags.project ? (await client.projects.get.query({ project: flags.project })).id : undefined,
        status: flags.status as never,
        limit: flags.limit ? Number(flags.limit) : undefined,
      });
      print(result.runs, () =>
        result.runs.length === 0
          ? "No runs."
          : table(
              result.runs.map((r) => ({
                id: r.id,
                status: r.status,
                project: r.project.name,
                agent: r.agent,
                started: time(r.startedAt),
                times: runTimes(r.times),
                task: r.task.title.slice(0, 48),
              })),
              ["id", "status", "project", "agent", "started", "times", "task"],
            ),
      );
      return 0;
    }
    case "show": {
      const run = await client.runs.get.query({ runId: need(args[0], "<run-id>") });
      print(run, () =>
        [
          `run       ${run.id}`,
          `status    ${run.status}${run.statusReason ? ` (${run.statusReason})` : ""}`,
          `project   ${run.project.name}`,
          `agent     ${run.agent}`,
          `task      ${run.task.prompt}`,
          `branch    ${run.branch} from ${run.baseRef} @ ${run.baseSha.slice(0, 12)}`,
          `started   ${time(run.startedAt)}   ${runTimes(run.times)}`,
          `exit code ${run.exitCode ?? "-"}`,
          `diff      ${run.additions === null ? "-" : `+${run.additions} -${run.deletions}`}`,
          ...(run.logTail && run.status === "failed" ? ["log tail:", run.logTail] : []),
        ].join("\n"),
      );
      return 0;
    }
    case "logs": {
      const runId = need(args[0], "<run-id>");
      const collected: StoredEvent[] = [];
      const emit = (e: StoredEvent) => {
        if (flags.json) collected.push(e);
        else {
          const line = eventLine(e);
          if (line !== null) process.stdout.write(`${line}\n`);
        }
      };
      const history = await allEvents(runId);
      for (const e of history) emit(e);
      if (flags.follow) {
        // Only what happens from now on can end the stream: an old "awaiting review" from an earlier turn must not.
        const run = await client.runs.get.query({ runId });
        if (!SETTLED.has(run.status)) await follow(runId, emit, SETTLED, history[history.length - 1]?.id);
      }
      if (flags.json) print(collected, () => "");
      return 0;
    }
    case "diff": {
      const diff = await client.runs.diff.query({ runId: need(args[0], "<run-id>") });
      print(diff, () =>
        diff.diff === null ? `Run ${diff.id} has no diff yet (${diff.status}).` : diff.diff.trimEnd() || "(no changes)",
      );
      return 0;
    }
    case "cancel": {
      const run = await client.runs.cancel.mutate({ runId: need(args[0], "<run-id>") });
      print(run, () =>
        run.status === "cancelled" ? `Run ${run.id} cancelled.` : `Cancel requested for run ${run.id} (${run.status}).`,
      );
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}" (see loopy --help)`);
  }
}

/** Prints where a waited-for run stands and returns the exit code for it. */
async function finish(runId: string): Promise<number> {
  const done = await client.runs.get.query({ runId });
  if (flags.json) print(done, () => "");
  else process.stderr.write(`Run ${done.id} ${done.status}${done.statusReason ? `: ${done.statusReason}` : ""}\n`);
  return ["succeeded", "awaiting_review", "merged"].includes(done.status) ? 0 : 3;
}

function parseComment(text: string): { path: string; line: number; body: string } {
  const m = /^(.+?):(\d+):(.+)$/s.exec(text);
  if (!m) throw new UsageError(`--comment must be FILE:LINE:TEXT, got "${text}"`);
  return { path: m[1] as string, line: Number(m[2]), body: m[3] as string };
}

async function review(args: string[]): Promise<number> {
  const [action, runId] = args;
  switch (action) {
    case "list": {
      const inbox = await client.review.inbox.query();
      print(inbox, () =>
        inbox.length === 0
          ? "Nothing to review."
          : table(
              inbox.map((r) => ({
                id: r.id,
                status: r.status,
                checks: r.checksPassed === null ? "-" : r.checksPassed ? "green" : "red",
                project: r.project.name,
                agent: r.task.agentProfile?.name ?? r.agent,
                diff: `+${r.additions ?? 0} -${r.deletions ?? 0}`,
                cost: r.costUsd ? `$${r.costUsd.toFixed(4)}` : "-",
                task: r.task.title.slice(0, 40),
              })),
              ["id", "status", "checks", "project", "agent", "diff", "cost", "task"],
            ),
      );
      return 0;
    }
    case "approve": {
      const id = need(runId, "<run-id>");
      const discard = flags["discard-comments"] === true;
      if (!discard) {
        // The server refuses too (with the count); here the refusal names each comment.
        const pending = (await client.review.comments.query({ runId: id })).filter((c) => c.status === "pending");
        if (pending.length) {
          const n = pending.length;
          process.stderr.write(
            `loopy: run ${id} has ${n} comment${n === 1 ? "" : "s"} not sent yet; approving would merge without ${n === 1 ? "it" : "them"}:\n` +
              pending
                .map((c) => `  ${c.id}  ${c.path}:${c.line}  ${c.body.split("\n")[0]?.slice(0, 80) ?? ""}\n`)
                .join("") +
              `Send ${n === 1 ? "it" : "them"} with "loopy review request-changes ${id}", or approve with --discard-comments.\n`,
          );
          return 1;
        }
      }
      const result = await client.review.approve.mutate({
        runId: id,
        ...(discard ? { pendingComments: "discard" as const } : {}),
      });
      print(
        result,
        () =>
          `Run ${result.runId} merged into ${result.target} as ${result.mergedSha.slice(0, 12)}${result.discardedComments ? ` (${result.discardedComments} comment${result.discardedComments === 1 ? "" : "s"} not sent, discarded)` : ""}`,
      );
      return 0;
    }
    case "comment": {
      const id = need(runId, "<run-id>");
      const line = Number(need(flags.line, "--line"));
      if (!Number.isInteger(line) || line < 1)
        throw new UsageError(`--line must be a line number (1 or more), got "${flags.line}"`);
      const comment = await client.review.addComment.mutate({
        runId: id,
        path: need(flags.file, "--file"),
        line,
        body: need(flags.message, "--message"),
      });
      print(comment, () => comment.id);
      return 0;
    }
    case "comments": {
      const comments = await client.review.comments.query({ runId: need(runId, "<run-id>") });
      print(comments, () =>
        comments.length === 0
          ? "No comments."
          : table(
              comments.map((c) => ({
                id: c.id,
                state: c.status,
                where: `${c.path}:${c.line}`,
                comment: c.body.split("\n")[0]?.slice(0, 60) ?? "",
              })),
              ["id", "state", "where", "comment"],
            ),
      );
      return 0;
    }
    case "reject": {
      const result = await client.review.reject.mutate({ runId: need(runId, "<run-id>"), reason: flags.message });
      print(result, () => `Run ${result.runId} rejected; its branch is kept.`);
      return 0;
    }
    case "request-changes": {
      const id = need(runId, "<run-id>");
      const before = await allEvents(id);
      const result = await client.review.requestChanges.mutate({
        runId: id,
        message: flags.message,
        comments: (flags.comment ?? []).map(parseComment),
      });
      if (!flags.wait) {
        print(
          result,
          () => `Sent ${result.comments} comment(s) to run ${result.runId}; turn ${result.turn + 1} is queued.`,
        );
        return 0;
      }
      if (!flags.json) process.stderr.write(`Turn ${result.turn + 1} of run ${id} queued; waiting…\n`);
      // Wait for this turn's outcome: skip what happened before the request.
      let started = false;
      const stopAt = new Set([...SETTLED]);
      await follow(
        id,
        (e) => {
          if (e.event.type === "status" && e.event.status === "running") started = true;
          const line = flags.json || !started ? null : eventLine(e);
          if (line !== null) process.stdout.write(`${line}\n`);
        },
        stopAt,
        before[before.length - 1]?.id,
      );
      return finish(id);
    }
    default:
      throw new UsageError(
        `unknown command "review ${action ?? ""}" (list, approve, reject, request-changes, comment, comments)`,
      );
  }
}

async function allEvents(runId: string): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let afterId: string | null = null;
  for (;;) {
    const page: StoredEvent[] = await client.runs.eventLog.query({ runId, afterId, limit: 1000 });
    events.push(...page);
    if (page.length < 1000) return events;
    afterId = page[page.length - 1]?.id ?? null;
  }
}

/**
 * Exits once stdout and stderr have handed everything to the OS: writes to a
 * pipe are asynchronous, and process.exit() would cut a large --json document.
 */
function exitAfterFlush(code: number): void {
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}

main().then(
  (code) => exitAfterFlush(code),
  (error: unknown) => {
    const usage =
      error instanceof UsageError ||
      error instanceof ResearchUsageError ||
      error instanceof FleetUsageError ||
      error instanceof AccessUsageError ||
      error instanceof SecretsUsageError;
    process.stderr.write(
      `loopy: ${usage ? `${(error as Error).message}\n${"Run loopy --help for usage."}` : describeError(error, baseUrl)}\n`,
    );
    exitAfterFlush(usage ? 2 : 1);
  },
);

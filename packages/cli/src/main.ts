import { parseArgs } from "node:util";
import { createLoopyClient, describeError, type LoopyClient } from "./client.ts";
import { duration, table, time } from "./format.ts";

const HELP = `loopy: control a running Loopy (LOOPY_URL, default http://127.0.0.1:3000)

Usage:
  loopy project add <path> [--name N]   register a local git repository
  loopy projects                        list projects
  loopy run --project P --command "<shell>" [--agent command] [--base REF] [--timeout DUR] [--wait]
                                        launch a run; --wait streams its log and waits for the end
  loopy runs [--project P] [--status S] [--limit N]
                                        list runs, newest first
  loopy show <run-id>                   a run's details
  loopy logs <run-id> [--follow]        a run's log; --follow streams until the run ends
  loopy diff <run-id>                   the run's unified diff
  loopy cancel <run-id>                 cancel a queued or running run

Every command takes --json and then prints one JSON document.
Exit codes: 0 ok, 1 error, 2 bad usage, 3 the waited-for run failed or was cancelled.`;

class UsageError extends Error {}

const TERMINAL = new Set(["succeeded", "failed", "cancelled", "merged", "rejected"]);

const { values: flags, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
        name: { type: "string" },
        project: { type: "string", short: "p" },
        agent: { type: "string", default: "command" },
        command: { type: "string", short: "c" },
        base: { type: "string" },
        timeout: { type: "string" },
        wait: { type: "boolean", default: false },
        follow: { type: "boolean", short: "f", default: false },
        status: { type: "string" },
        limit: { type: "string" },
      },
    });
  } catch (error) {
    process.stderr.write(`loopy: ${(error as Error).message}\n`);
    process.exit(2);
  }
})();

const baseUrl = process.env.LOOPY_URL || "http://127.0.0.1:3000";
const client = createLoopyClient(baseUrl);

function print(json: unknown, human: () => string) {
  process.stdout.write(flags.json ? `${JSON.stringify(json, null, 2)}\n` : `${human()}\n`);
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
    case "error":
      return `error: ${ev.message}`;
    default:
      return null;
  }
}

/** Streams a run's events until it reaches a final state; returns the events seen. */
function follow(runId: string, onEvent: (e: StoredEvent) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const sub = client.runs.events.subscribe(
      { runId },
      {
        onData: ({ data }) => {
          onEvent(data as StoredEvent);
          if (data.event.type === "status" && TERMINAL.has(data.event.status)) {
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
      if (args[0] !== "add") throw new UsageError(`unknown command "project ${args[0] ?? ""}" (did you mean "project add <path>"?)`);
      const { resolve } = await import("node:path");
      const project = await client.projects.add.mutate({ path: resolve(need(args[1], "<path>")), name: flags.name });
      print(project, () => `Registered ${project.name} (${project.id}) at ${project.path}, default branch ${project.defaultBranch}`);
      return 0;
    }
    case "projects": {
      const projects = await client.projects.list.query();
      print(projects, () =>
        projects.length === 0
          ? "No projects. Add one with: loopy project add <path>"
          : table(projects.map((p) => ({ id: p.id, name: p.name, branch: p.defaultBranch, path: p.path })), ["id", "name", "branch", "path"]),
      );
      return 0;
    }
    case "run": {
      const run = await client.runs.launch.mutate({
        project: need(flags.project, "--project"),
        agent: flags.agent ?? "command",
        command: flags.command ?? "",
        baseRef: flags.base,
        timeout: flags.timeout,
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
      const done = await client.runs.get.query({ runId: run.id });
      if (flags.json) print(done, () => "");
      else process.stderr.write(`Run ${done.id} ${done.status}${done.statusReason ? `: ${done.statusReason}` : ""}\n`);
      return done.status === "succeeded" ? 0 : 3;
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
                duration: duration(r.startedAt, r.finishedAt),
                task: r.task.title.slice(0, 48),
              })),
              ["id", "status", "project", "agent", "started", "duration", "task"],
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
          `started   ${time(run.startedAt)}   duration ${duration(run.startedAt, run.finishedAt)}`,
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
      if (flags.follow) {
        const run = await client.runs.get.query({ runId });
        if (TERMINAL.has(run.status)) {
          for (const e of await allEvents(runId)) emit(e);
        } else {
          await follow(runId, emit);
        }
      } else {
        for (const e of await allEvents(runId)) emit(e);
      }
      if (flags.json) print(collected, () => "");
      return 0;
    }
    case "diff": {
      const diff = await client.runs.diff.query({ runId: need(args[0], "<run-id>") });
      print(diff, () => (diff.diff === null ? `Run ${diff.id} has no diff yet (${diff.status}).` : diff.diff.trimEnd() || "(no changes)"));
      return 0;
    }
    case "cancel": {
      const run = await client.runs.cancel.mutate({ runId: need(args[0], "<run-id>") });
      print(run, () => (run.status === "cancelled" ? `Run ${run.id} cancelled.` : `Cancel requested for run ${run.id} (${run.status}).`));
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}" (see loopy --help)`);
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

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`loopy: ${error instanceof UsageError ? `${error.message}\n${"Run loopy --help for usage."}` : describeError(error, baseUrl)}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);

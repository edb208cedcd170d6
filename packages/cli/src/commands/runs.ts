import { command } from "../command.ts";
import { runTimes, table, time } from "../format.ts";
import { allEvents, eventLine, finish, follow, SETTLED, type StoredEvent } from "../run-events.ts";

/** `loopy run`: launch a run. */
export const run = command({
  name: "run",
  summary: "launch a run (--command, or --agent PROFILE --prompt); --wait streams its log until it settles",
  details: [
    "Give --command for a shell command, or --agent PROFILE with --prompt for an agent.",
    "--wait streams the run's log and returns when it needs a human or ends (exit 3 if it failed, was",
    "cancelled or needs attention). Each --secret (a stored secret) goes into the agent's environment, and only there.",
  ].join("\n"),
  options: {
    project: { type: "string", short: "p", value: "P", required: true, help: "the project (name or id)" },
    agent: { type: "string", value: "PROFILE", help: "an agent profile; command (the default) runs --command" },
    command: { type: "string", short: "c", value: '"<shell>"', help: "the shell command to run (agent command)" },
    prompt: { type: "string", value: '"..."', help: "the task for the agent" },
    base: { type: "string", value: "REF", help: "branch off this ref (default: the project's default branch)" },
    timeout: { type: "string", value: "DUR", help: "stop the run after this long (30s, 5m, 1h30m)" },
    secret: { type: "string", value: "NAME", multiple: true, help: "a stored secret for the agent's environment" },
    wait: { type: "boolean", help: "stream the log and return when the run needs a human or ends" },
  },
  async run({ client, opts, print }) {
    const launched = await client.runs.launch.mutate({
      project: opts.project,
      agent: opts.agent ?? "command",
      command: opts.command,
      prompt: opts.prompt,
      baseRef: opts.base,
      timeout: opts.timeout,
      secrets: opts.secret,
    });
    if (!opts.wait) {
      print(
        launched,
        () => `Launched run ${launched.id} (${launched.status}) on ${launched.project.name}, branch ${launched.branch}`,
      );
      return 0;
    }
    if (!opts.json) process.stderr.write(`Run ${launched.id} launched; waiting for it to finish…\n`);
    await follow(client, launched.id, (e) => {
      const line = opts.json ? null : eventLine(e);
      if (line !== null) process.stdout.write(`${line}\n`);
    });
    return finish(client, launched.id, opts.json, print);
  },
});

const runs = command({
  name: "runs",
  summary: "list runs, newest first",
  options: {
    project: { type: "string", short: "p", value: "P", help: "only this project's runs" },
    status: { type: "string", value: "S", help: "only runs in this status (e.g. running, awaiting_review)" },
    limit: { type: "number", help: "at most this many" },
  },
  async run({ client, opts, print }) {
    const result = await client.runs.list.query({
      projectId: opts.project ? (await client.projects.get.query({ project: opts.project })).id : undefined,
      status: opts.status as never,
      limit: opts.limit,
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
  },
});

const show = command({
  name: "show",
  args: ["<run-id>"],
  summary: "a run's details",
  options: {},
  async run({ client, args, print }) {
    const r = await client.runs.get.query({ runId: args[0] as string });
    print(r, () =>
      [
        `run       ${r.id}`,
        `status    ${r.status}${r.statusReason ? ` (${r.statusReason})` : ""}`,
        `project   ${r.project.name}`,
        `agent     ${r.agent}`,
        `task      ${r.task.prompt}`,
        `branch    ${r.branch} from ${r.baseRef} @ ${r.baseSha.slice(0, 12)}`,
        `started   ${time(r.startedAt)}   ${runTimes(r.times)}`,
        `exit code ${r.exitCode ?? "-"}`,
        `diff      ${r.additions === null ? "-" : `+${r.additions} -${r.deletions}`}`,
        ...(r.logTail && r.status === "failed" ? ["log tail:", r.logTail] : []),
      ].join("\n"),
    );
    return 0;
  },
});

const logs = command({
  name: "logs",
  args: ["<run-id>"],
  summary: "a run's log; --follow streams until the run needs a human or ends",
  details: "--raw keeps the escape sequences agents printed.",
  options: {
    follow: { type: "boolean", short: "f", help: "keep streaming until the run needs a human or ends" },
  },
  async run({ client, args, opts, print }) {
    const runId = args[0] as string;
    const collected: StoredEvent[] = [];
    const emit = (e: StoredEvent) => {
      if (opts.json) collected.push(e);
      else {
        const line = eventLine(e);
        if (line !== null) process.stdout.write(`${line}\n`);
      }
    };
    const history = await allEvents(client, runId);
    for (const e of history) emit(e);
    if (opts.follow) {
      // Only what happens from now on can end the stream: an old "awaiting review" from an earlier turn must not.
      const current = await client.runs.get.query({ runId });
      if (!SETTLED.has(current.status)) await follow(client, runId, emit, SETTLED, history[history.length - 1]?.id);
    }
    if (opts.json) print(collected, () => "");
    return 0;
  },
});

const diff = command({
  name: "diff",
  args: ["<run-id>"],
  summary: "the run's unified diff",
  options: {},
  async run({ client, args, print }) {
    const d = await client.runs.diff.query({ runId: args[0] as string });
    print(d, () =>
      d.diff === null ? `Run ${d.id} has no diff yet (${d.status}).` : d.diff.trimEnd() || "(no changes)",
    );
    return 0;
  },
});

const cancel = command({
  name: "cancel",
  args: ["<run-id>"],
  summary: "cancel a queued or running run",
  options: {},
  async run({ client, args, print }) {
    const r = await client.runs.cancel.mutate({ runId: args[0] as string });
    print(r, () =>
      r.status === "cancelled" ? `Run ${r.id} cancelled.` : `Cancel requested for run ${r.id} (${r.status}).`,
    );
    return 0;
  },
});

const checks = command({
  name: "checks",
  args: ["<run-id>"],
  summary: "every checkpoint result of every turn",
  options: {},
  async run({ client, args, print }) {
    const results = await client.runs.checks.query({ runId: args[0] as string });
    print(results, () =>
      results.length === 0
        ? "No checkpoint ran for this run."
        : table(
            results.map((c) => ({
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
  },
});

export const runCommands = [run, runs, show, logs, diff, cancel, checks];

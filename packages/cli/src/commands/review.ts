import { UsageError } from "../args.ts";
import { command } from "../command.ts";
import { table } from "../format.ts";
import { allEvents, eventLine, finish, follow, SETTLED } from "../run-events.ts";

const reviewList = command({
  name: "review list",
  summary: "runs waiting for review or attention, best first",
  options: {},
  async run({ client, print }) {
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
  },
});

const reviewApprove = command({
  name: "review approve",
  args: ["<run-id>"],
  summary: "merge the run's branch into the project's default branch",
  details: "Refused while comments are not sent yet, unless --discard-comments (send them with request-changes).",
  options: {
    "discard-comments": { type: "boolean", help: "approve even though comments are not sent; they are discarded" },
  },
  async run({ client, args, opts, print }) {
    const id = args[0] as string;
    const discard = opts["discard-comments"];
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
    const discarded = result.discardedComments;
    print(
      result,
      () =>
        `Run ${result.runId} merged into ${result.target} as ${result.mergedSha.slice(0, 12)}${discarded ? ` (${discarded} comment${discarded === 1 ? "" : "s"} not sent, discarded)` : ""}`,
    );
    return 0;
  },
});

const reviewComment = command({
  name: "review comment",
  args: ["<run-id>"],
  summary: "a comment on line N (new version) of F in the run's diff, pending until sent",
  options: {
    file: { type: "string", value: "F", required: true, help: "the file, as the diff names it" },
    line: { type: "number", value: "N", required: true, help: "the line number in the new version" },
    message: { type: "string", short: "m", value: "TEXT", required: true, help: "the comment" },
  },
  async run({ client, args, opts, print }) {
    if (!Number.isInteger(opts.line) || opts.line < 1)
      throw new UsageError(`--line must be a line number (1 or more), got "${opts.line}"`);
    const comment = await client.review.addComment.mutate({
      runId: args[0] as string,
      path: opts.file,
      line: opts.line,
      body: opts.message,
    });
    print(comment, () => comment.id);
    return 0;
  },
});

const reviewComments = command({
  name: "review comments",
  args: ["<run-id>"],
  summary: "the run's comments: id, state (pending, sent, resolved, discarded), file:line, text",
  options: {},
  async run({ client, args, print }) {
    const comments = await client.review.comments.query({ runId: args[0] as string });
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
  },
});

const reviewReject = command({
  name: "review reject",
  args: ["<run-id>"],
  summary: "reject the run; its branch is kept",
  options: {
    message: { type: "string", short: "m", value: "WHY", help: "the reason" },
  },
  async run({ client, args, opts, print }) {
    const result = await client.review.reject.mutate({ runId: args[0] as string, reason: opts.message });
    print(result, () => `Run ${result.runId} rejected; its branch is kept.`);
    return 0;
  },
});

function parseComment(text: string): { path: string; line: number; body: string } {
  const m = /^(.+?):(\d+):(.+)$/s.exec(text);
  if (!m) throw new UsageError(`--comment must be FILE:LINE:TEXT, got "${text}"`);
  return { path: m[1] as string, line: Number(m[2]), body: m[3] as string };
}

const reviewRequestChanges = command({
  name: "review request-changes",
  args: ["<run-id>"],
  summary: "send comments back to the same agent session",
  details: "The pending comments (loopy review comment) go too. --wait streams the new turn until it settles.",
  options: {
    message: { type: "string", short: "m", value: '"..."', help: "what to change" },
    comment: { type: "string", value: "FILE:LINE:TEXT", multiple: true, help: "a comment on a line of the diff" },
    wait: { type: "boolean", help: "stream the new turn and return when the run needs a human or ends" },
  },
  async run({ client, args, opts, print }) {
    const id = args[0] as string;
    const comments = (opts.comment ?? []).map(parseComment);
    const before = await allEvents(client, id);
    const result = await client.review.requestChanges.mutate({ runId: id, message: opts.message, comments });
    if (!opts.wait) {
      print(
        result,
        () => `Sent ${result.comments} comment(s) to run ${result.runId}; turn ${result.turn + 1} is queued.`,
      );
      return 0;
    }
    if (!opts.json) process.stderr.write(`Turn ${result.turn + 1} of run ${id} queued; waiting…\n`);
    // Wait for this turn's outcome: skip what happened before the request.
    let started = false;
    await follow(
      client,
      id,
      (e) => {
        if (e.event.type === "status" && e.event.status === "running") started = true;
        const line = opts.json || !started ? null : eventLine(e);
        if (line !== null) process.stdout.write(`${line}\n`);
      },
      SETTLED,
      before[before.length - 1]?.id,
    );
    return finish(client, id, opts.json, print);
  },
});

export const reviewCommands = [
  reviewList,
  reviewApprove,
  reviewComment,
  reviewComments,
  reviewReject,
  reviewRequestChanges,
];

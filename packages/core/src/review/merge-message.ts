import { runTitle } from "../runs/run-title.ts";

/** Who approved a run, for the merge commit's Reviewed-by trailer. Users have no email yet: `<name>@loopy` stands in. */
export interface Approver {
  name: string;
  email?: string | null;
}

/** The default author of approvals' commits, and always their committer. */
export const LOOPY_IDENTITY = { name: "Loopy", email: "loopy@localhost" } as const;

export interface MergedRunSummary {
  id: string;
  agent: string;
  profile?: string | null;
  turns: number;
  task: { prompt: string };
  /** The checkpoint results of the turn that was approved. */
  checks: Array<{ name: string; passed: boolean; required: boolean; durationMs: number }>;
}

/** A name or email as git stores it: no angle brackets or line breaks, which would break the header or trailer. */
const identityPart = (text: string) =>
  text
    .replace(/[<>\r\n]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();

/**
 * The message of the commit an approval puts on the default branch: the run's
 * title, what ran (agent, turns, checkpoints), then git trailers saying who
 * approved it and where the run is, so `git log` alone answers "who let this in?".
 */
export function mergeMessage(run: MergedRunSummary, approver: Approver, publicUrl: string): string {
  const name = identityPart(approver.name) || "unknown";
  const email = identityPart(approver.email ?? "") || `${name.replace(/\s+/g, ".")}@loopy`;
  const agent = run.profile ? `${run.profile} (${run.agent})` : run.agent;
  const checks = run.checks.length
    ? run.checks
        .map(
          (c) =>
            `${c.name} ${c.passed ? "passed" : c.required ? "failed" : "failed (optional)"} in ${(c.durationMs / 1000).toFixed(1)}s`,
        )
        .join(", ")
    : "none";
  return [
    runTitle(run.task),
    "",
    `Agent: ${agent}, ${run.turns} turn${run.turns === 1 ? "" : "s"}`,
    `Checkpoints: ${checks}`,
    "",
    `Reviewed-by: ${name} <${email}>`,
    `Loopy-Run: ${publicUrl.replace(/\/+$/, "")}/runs/${run.id}`,
  ].join("\n");
}

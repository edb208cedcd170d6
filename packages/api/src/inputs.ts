import { z } from "zod";

/**
 * The building blocks of every procedure's input: bounded, and refusing what
 * Postgres or the file system would choke on (a NUL character, an id that
 * cannot be one, a path that leaves the repository), so bad input is a 400
 * with a reason, never a database error.
 */

const NUL = "\u0000";
const noNul = (s: string) => !s.includes(NUL);
const NUL_MESSAGE = "must not contain a NUL (\\0) character";

/** Text of at most `max` characters without NUL. */
export function text(max: number) {
  return z.string().max(max, `at most ${max} characters`).refine(noNul, NUL_MESSAGE);
}

/** A Loopy id (see packages/core/src/ids.ts): runs, fleets, loops, experiments, comments, tokens. */
export const loopyId = z.string().regex(/^[a-z0-9]{1,40}$/, "not a Loopy id (1–40 lower-case letters and digits)");

/** A project's id or name. */
export const projectRef = z
  .string()
  .trim()
  .min(1, "choose a project")
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    "not a project id or name (letters, digits, '.', '_' and '-', at most 64)",
  );

/** An adapter or agent profile: its name or id. */
export const agentRef = z
  .string()
  .trim()
  .regex(
    /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,63})?$/,
    "not an agent or profile name (letters, digits, '.', '_' and '-', at most 64)",
  );

/** A stored secret's name (its format is checked by the secret store, which says what a name may be). */
export const secretName = text(128).min(1, "a secret needs a name");

/** A git ref or revision as a user types it (branch, tag, sha); git itself says whether it exists. */
export const gitRef = z
  .string()
  .max(255, "at most 255 characters")
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point of this check
  .refine((s) => !/[\s\u0000-\u001f\u007f]/.test(s), "a ref must not contain spaces or control characters")
  .refine((s) => !s.startsWith("-"), "a ref must not start with '-'");

/** A duration such as "30s" or "5m", or seconds. */
export const duration = z.union([
  text(32),
  z
    .number()
    .finite()
    .min(0)
    .max(366 * 24 * 3600),
]);

/** A whole number that fits a Postgres integer column with room to spare (the domain checks the real range and says it). */
export const smallInt = z.number().int().min(-1_000_000_000).max(1_000_000_000);

/** A point in time Postgres can store (years 1970–9999). */
export const date = z
  .date()
  .min(new Date("1970-01-01T00:00:00Z"), "a date from 1970 on")
  .max(new Date("9999-12-31T23:59:59Z"), "a date before the year 10000");

/** Unsigned decimal row id (bigserial cursors). */
export const serialId = z.string().regex(/^\d{1,19}$/, "not a row id (digits only)");

/**
 * Why `raw` is not a safe path relative to a repository's top (a file in a
 * diff, a comment's path, a glob), or null when it is. Refuses what could
 * reach outside the repository or confuse git: absolute paths, ".." parts,
 * NUL and control characters, backslashes, URL-encoded traversal and a
 * leading "-" (read as an option). `what` names the path in the message.
 */
export function repoPathProblem(raw: string, what = "A path"): string | null {
  const refuse = (why: string) =>
    `${what} must be a path inside the repository (${why}), got ${JSON.stringify(raw.length > 200 ? `${raw.slice(0, 200)}…` : raw)}`;
  if (raw.length === 0) return refuse("it is empty");
  let decoded = raw;
  for (let i = 0; i < 3 && /%[0-9a-f]{2}/i.test(decoded); i++) {
    try {
      decoded = decodeURIComponent(decoded);
    } catch {
      break;
    }
  }
  for (const candidate of new Set([raw, decoded])) {
    if (candidate.includes(NUL)) return refuse("no NUL character");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point of this check
    if (/[\u0001-\u001f\u007f]/.test(candidate)) return refuse("no control characters");
    if (candidate.includes("\\")) return refuse("'/' between folders, not '\\'");
    if (candidate.startsWith("/") || /^[A-Za-z]:/.test(candidate) || candidate.startsWith("~"))
      return refuse("relative to its top, not absolute");
    if (candidate.split("/").some((part) => part === "..")) return refuse('no ".."');
  }
  if (raw.startsWith("-")) return refuse("not starting with '-'");
  return null;
}

/** A path relative to the repository's top that cannot leave it (see `repoPathProblem`). */
export function repoPath(max = 4096, what?: string) {
  return z
    .string()
    .max(max, `at most ${max} characters`)
    .superRefine((value, ctx) => {
      const problem = repoPathProblem(value, what);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    });
}

/**
 * A free-form JSON value the domain validates itself (checkpoints, a search
 * space, profile settings), bounded first: no NUL in any string, at most
 * `maxDepth` levels and `maxNodes` values in all.
 */
export function boundedJson(maxDepth = 16, maxNodes = 10_000) {
  return z.unknown().superRefine((value, ctx) => {
    let nodes = 0;
    const walk = (v: unknown, depth: number): string | null => {
      if (++nodes > maxNodes) return `more than ${maxNodes} values`;
      if (depth > maxDepth) return `nested deeper than ${maxDepth} levels`;
      if (typeof v === "string") return noNul(v) ? null : `a string ${NUL_MESSAGE}`;
      if (typeof v === "number" && !Number.isFinite(v)) return "numbers must be finite";
      if (typeof v === "bigint" || typeof v === "function" || typeof v === "symbol") return `a ${typeof v} is not JSON`;
      if (Array.isArray(v)) {
        for (const item of v) {
          const problem = walk(item, depth + 1);
          if (problem) return problem;
        }
      } else if (v && typeof v === "object") {
        if (v instanceof Date || v instanceof Map || v instanceof Set) return "not plain JSON";
        for (const [key, item] of Object.entries(v)) {
          if (!noNul(key)) return `a key ${NUL_MESSAGE}`;
          const problem = walk(item, depth + 1);
          if (problem) return problem;
        }
      }
      return null;
    };
    const problem = walk(value, 0);
    if (problem) ctx.addIssue({ code: "custom", message: `refused: ${problem}` });
  });
}

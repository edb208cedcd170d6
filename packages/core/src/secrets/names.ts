/** A secret's name is the environment variable it is injected as. */
export const SECRET_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;

/**
 * Names no secret may have: Loopy's own settings (never handed to an agent),
 * the variables every child inherits, and ones that change how programs start.
 */
export const RESERVED_SECRET =
  /^(DATABASE_URL|REDIS_URL|LOOPY_.*|PATH|HOME|USER|SHELL|TERM|LANG|LC_.*|TMPDIR|TZ|LD_.*|BASH_ENV|ENV|NODE_OPTIONS)$/;

/** Why `name` cannot be a secret's name, or null when it can. */
export function secretNameProblem(name: string): string | null {
  if (!SECRET_NAME.test(name))
    return `"${name.slice(0, 140)}" is not a secret name: use an environment variable name like OPENAI_API_KEY (A-Z, 0-9, _; at most 128 characters)`;
  if (RESERVED_SECRET.test(name))
    return `"${name}" is reserved (Loopy's own settings such as DATABASE_URL, REDIS_URL and LOOPY_*, and variables like PATH and HOME cannot be secrets)`;
  return null;
}

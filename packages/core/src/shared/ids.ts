import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/**
 * Short, lowercase, URL- and branch-safe ids (10 characters, ~51 bits). Short
 * enough to type in the CLI, and used verbatim in branch names (loopy/run-<id>).
 */
export function newId(length = 10): string {
  const bytes = randomBytes(length);
  let id = "";
  for (const byte of bytes) id += ALPHABET[byte % 36];
  // A leading letter keeps ids from ever looking like numbers in shells and JSON.
  return ALPHABET[10 + ((bytes[0] ?? 0) % 26)] + id.slice(1);
}

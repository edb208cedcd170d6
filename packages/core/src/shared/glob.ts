/**
 * Minimal glob matching for path rules: `**` (any folders), `*` (within one
 * folder), `?` (one character). A pattern without a slash matches the file name
 * in any folder, as in .gitignore.
 */
export function globToRegExp(glob: string): RegExp {
  // "dir/" means everything under dir; a name without a slash matches at any depth,
  // and a match on a folder covers everything inside it (as in .gitignore).
  const trimmed = glob.endsWith("/") ? `${glob}**` : glob;
  const anchored = trimmed.replace(/^\//, "");
  const pattern = trimmed.slice(0, -1).includes("/") || trimmed.startsWith("/") ? anchored : `**/${anchored}`;
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        const slash = pattern[i + 2] === "/";
        re += slash ? "(?:.*/)?" : ".*";
        i += slash ? 2 : 1;
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}(?:/.*)?$`);
}

export function matchesAny(path: string, globs: string[]): boolean {
  return globs.some((g) => globToRegExp(g).test(path));
}

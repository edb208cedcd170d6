/** A git subject line's customary length: longer titles are cut here. */
export const RUN_TITLE_MAX = 72;

/**
 * What a run is called where one line must do: the subject of the commit an
 * approval puts on the default branch. For now the first line of the task's
 * prompt (or command), without a Markdown heading's "#"s, cut to 72 characters
 * (between words where it can); the one place to change when tasks get real titles.
 */
export function runTitle(task: { prompt: string }): string {
  const line =
    task.prompt
      .split("\n")
      .map((l) => l.trim())
      .find(Boolean) ?? "";
  const title = line.replace(/^#+\s+/, "").replace(/\s+/g, " ") || "Loopy run";
  if (title.length <= RUN_TITLE_MAX) return title;
  // Cut between words when one ends late enough, so the subject does not end in half a word.
  const cut = title.slice(0, RUN_TITLE_MAX - 3);
  const space = cut.lastIndexOf(" ");
  return `${(space > RUN_TITLE_MAX / 2 ? cut.slice(0, space) : cut).trimEnd()}...`;
}

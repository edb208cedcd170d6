/**
 * The fake models act out a script written in the conversation, one tool call
 * per step, so tests can drive real agent CLIs deterministically:
 *
 *   @write notes.txt: some text          create or overwrite a file
 *   @edit notes.txt: old text => new text replace text in a file (read first when the tool demands it)
 *   @run npm test                          run a shell command
 *   @say All done                          the final message (default: "Done.")
 *
 * A follow-up prompt with @ lines of its own runs those. A follow-up without
 * any (a checkpoint failure Loopy sends back, say) runs the lines of the first
 * prompt tagged with its turn number: "@2 write notes.txt: fixed" is for the
 * second prompt of the session.
 */
export type Step =
  | { op: "write"; path: string; content: string }
  | { op: "edit"; path: string; old: string; new: string }
  | { op: "run"; command: string };

export interface Script {
  steps: Step[];
  say: string;
}

const LINE = /^@(\d+\s+)?(write|edit|run|say)\s+(.*)$/;

function parseLine(op: string, rest: string): Step | { op: "say"; text: string } | null {
  if (op === "say") return { op: "say", text: rest.trim() };
  if (op === "run") return { op: "run", command: rest.trim() };
  const colon = rest.indexOf(":");
  if (colon < 0) return null;
  const path = rest.slice(0, colon).trim();
  const body = rest
    .slice(colon + 1)
    .trim()
    .replace(/\\n/g, "\n");
  if (op === "write") return { op: "write", path, content: body.endsWith("\n") ? body : `${body}\n` };
  const arrow = body.indexOf("=>");
  if (arrow < 0) return null;
  return { op: "edit", path, old: body.slice(0, arrow).trim(), new: body.slice(arrow + 2).trim() };
}

/** The script for prompt number `turn` (1-based) of a session. */
export function scriptFor(prompts: string[], turn = prompts.length): Script {
  const current = prompts[turn - 1] ?? "";
  const first = prompts[0] ?? "";
  const lines = (text: string) =>
    text
      .split("\n")
      .map((l) => l.trim().replace(/^"+|"+$/g, ""))
      .map((l) => LINE.exec(l))
      .filter((m) => m !== null);
  let chosen = lines(current).filter((m) => !m[1] || turn === 1);
  if (turn > 1 && chosen.length === 0) chosen = lines(first).filter((m) => m[1] && Number(m[1]) === turn);
  if (turn === 1) chosen = lines(first).filter((m) => !m[1] || Number(m[1]) === 1);
  const script: Script = { steps: [], say: "Done." };
  for (const m of chosen) {
    const parsed = parseLine(m[2] as string, m[3] as string);
    if (!parsed) continue;
    if (parsed.op === "say") script.say = parsed.text;
    else script.steps.push(parsed);
  }
  return script;
}

/**
 * Agents write what they like into logs, messages, diffs and checkpoint output, and `loopy` prints it
 * to a terminal: an escape sequence there can rewrite earlier lines (hide a command), set the window
 * title, write the clipboard (OSC 52), make links (OSC 8) or, in some terminals, answer back as typed
 * input. This removes them: CSI sequences, OSC/DCS/SOS/PM/APC strings (ended by BEL or ST, else at the
 * end of the line), other ESC sequences, and every other C0 and C1 control character except newline
 * and tab (a carriage return could overwrite a line too).
 */
const SEQUENCE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal control characters is this regex's job
  /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?|\x1b[ -/]*[0-~]?|[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

export function stripTerminalControls(text: string): string {
  return text.replace(SEQUENCE, "");
}

/**
 * JSON text with DEL and the C1 controls written as \u escapes (JSON.stringify escapes only C0):
 * the same document, safe to print.
 */
export function escapeJsonControls(json: string): string {
  return json.replace(/[\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Makes every later write of text to `stream` go through `stripTerminalControls`. Applied to stdout
 * and stderr once, so what any command prints (tables, logs, diffs, error messages) is covered,
 * including commands added later. `--raw` skips it.
 */
export function guardTerminal(stream: NodeJS.WriteStream): void {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    const text =
      typeof chunk === "string" ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString("utf8") : chunk;
    return write(typeof text === "string" ? stripTerminalControls(text) : text, ...rest);
  }) as NodeJS.WriteStream["write"];
}

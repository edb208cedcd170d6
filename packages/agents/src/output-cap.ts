import { StringDecoder } from "node:string_decoder";
import { formatBytes } from "@loopy/config/bytes";

type Stream = "stdout" | "stderr";

/** What `OutputCap` let through after the cut: the note and each stream's last lines. */
export interface CutOutput {
  /** One line saying what was not kept, e.g. "[loopy] output cut: 1.0 GB / 536,870,912 lines not stored …". */
  note: string;
  tails: Array<{ stream: Stream; lines: string[] }>;
}

const TAIL_BYTES = 64 * 1024;

function countNewlines(buffer: Buffer): number {
  let n = 0;
  for (let i = buffer.indexOf(10); i !== -1; i = buffer.indexOf(10, i + 1)) n++;
  return n;
}

/**
 * Keeps a process's output bounded: the first `maxBytes` (both streams
 * together) go on to be split into lines; after that the bytes are only
 * counted, not decoded or split (so a command printing 1 GB costs a byte
 * count, not a billion strings), and the last 64 KiB of each stream are kept.
 * At the end, `finish` says what was cut and gives those last lines, which is
 * where a failing test's summary usually is.
 */
export class OutputCap {
  private passed = 0;
  private skippedBytes = 0;
  private skippedLines = 0;
  private readonly tails: Record<Stream, Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };

  constructor(private readonly maxBytes: number) {}

  /** The part of `chunk` to read as lines (possibly empty); the rest is counted and its end kept. */
  take(stream: Stream, chunk: Buffer): Buffer {
    const room = Math.max(0, this.maxBytes - this.passed);
    const head = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.passed += head.length;
    if (head.length < chunk.length) this.skip(stream, chunk.subarray(head.length));
    return head;
  }

  get cut(): boolean {
    return this.skippedBytes > 0;
  }

  private skip(stream: Stream, rest: Buffer) {
    this.skippedBytes += rest.length;
    this.skippedLines += countNewlines(rest);
    const tail = this.tails[stream];
    this.tails[stream] =
      rest.length >= TAIL_BYTES
        ? Buffer.from(rest.subarray(rest.length - TAIL_BYTES))
        : Buffer.concat([tail, rest]).subarray(-TAIL_BYTES);
  }

  /** Null when nothing was cut. */
  finish(): CutOutput | null {
    if (!this.cut) return null;
    let keptBytes = 0;
    let keptLines = 0;
    const tails: CutOutput["tails"] = [];
    for (const stream of ["stdout", "stderr"] as const) {
      const tail = this.tails[stream];
      if (tail.length === 0) continue;
      // Start at a line's beginning: the first bytes of the tail are the end of a line that was cut.
      const firstNewline = tail.indexOf(10);
      const kept = tail.length === TAIL_BYTES && firstNewline >= 0 ? tail.subarray(firstNewline + 1) : tail;
      keptBytes += kept.length;
      keptLines += countNewlines(kept);
      const text = new StringDecoder("utf8").end(kept);
      const lines = text.split("\n");
      if (lines.at(-1) === "") lines.pop();
      if (lines.length) tails.push({ stream, lines: lines.map((l) => l.replace(/\r$/, "")) });
    }
    const bytes = this.skippedBytes - keptBytes;
    const lines = this.skippedLines - keptLines;
    const note =
      `[loopy] output cut: ${formatBytes(bytes)} (${bytes.toLocaleString("en-US")} bytes) / ${lines.toLocaleString("en-US")} lines not stored; ` +
      `kept the first ${formatBytes(this.maxBytes)}${keptBytes ? ` and the last ${formatBytes(keptBytes)}` : ""}`;
    return { note, tails };
  }
}

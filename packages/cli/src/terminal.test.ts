import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { escapeJsonControls, guardTerminal, stripTerminalControls } from "./terminal.ts";

describe("stripTerminalControls", () => {
  it("keeps text, newlines and tabs", () => {
    expect(stripTerminalControls("plain line\n\tindented — ünïcode ✓\n")).toBe("plain line\n\tindented — ünïcode ✓\n");
  });

  it("removes colours and cursor movement (CSI)", () => {
    expect(stripTerminalControls("\x1b[31mred\x1b[0m \x1b[1;2Hmoved \x1b[2K\x1b[1Aup \x1b[?25lhidden")).toBe(
      "red moved up hidden",
    );
    expect(stripTerminalControls("\x9b31mC1 CSI")).toBe("C1 CSI");
  });

  it("removes OSC strings: title, clipboard, hyperlinks (BEL or ST ended, or cut at the line's end)", () => {
    expect(stripTerminalControls("a\x1b]0;pwned title\x07b")).toBe("ab");
    expect(stripTerminalControls("a\x1b]52;c;ZWNobyBoaQ==\x1b\\b")).toBe("ab");
    expect(stripTerminalControls("\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\")).toBe("click");
    expect(stripTerminalControls("x\x1b]0;never ended\nnext line")).toBe("x\nnext line");
    expect(stripTerminalControls("\x9d0;c1 title\x9cafter")).toBe("after");
  });

  it("removes DCS, APC, PM and SOS strings and other ESC sequences", () => {
    expect(stripTerminalControls("a\x1bP1$r0m\x1b\\b\x1b_apc\x1b\\c\x1b^pm\x1b\\d\x1bXsos\x1b\\e")).toBe("abcde");
    expect(stripTerminalControls("\x1bcreset \x1b(Bcharset \x1b7saved\x1b8 end\x1b")).toBe("reset charset saved end");
  });

  it("removes other C0 and C1 controls, carriage returns and DEL", () => {
    expect(stripTerminalControls("safe\rEVIL\x00\x07\x08\x0b\x0c\x7f\x85\x8d!")).toBe("safeEVIL!");
  });
});

describe("escapeJsonControls", () => {
  it("writes DEL and C1 as \\u escapes: the same JSON value, nothing a terminal acts on", () => {
    const value = { line: "\x9b2J\x7f\x1b[0m ok" };
    const json = escapeJsonControls(JSON.stringify(value));
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for control characters
    expect(json).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
    expect(JSON.parse(json)).toEqual(value);
  });
});

describe("guardTerminal", () => {
  it("strips every later text write to the stream", async () => {
    const stream = new PassThrough() as unknown as NodeJS.WriteStream;
    guardTerminal(stream);
    stream.write("\x1b]0;title\x07log line\n");
    stream.write(Buffer.from("\x1b[2Jdiff\n"));
    (stream as unknown as PassThrough).end();
    const chunks: Buffer[] = [];
    for await (const chunk of stream as unknown as PassThrough) chunks.push(Buffer.from(chunk as Buffer));
    expect(Buffer.concat(chunks).toString()).toBe("log line\ndiff\n");
  });
});

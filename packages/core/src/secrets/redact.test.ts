import { describe, expect, it } from "vitest";
import { Redactor } from "./redact.ts";

describe("Redactor", () => {
  const value = "sk-test-AbC123xyz";

  it("replaces the value, its base64 and its JSON-escaped form with [redacted:NAME]", () => {
    const r = new Redactor({ MY_KEY: value, QUOTED: 'pa"ss\\word' });
    expect(r.text(`key=${value}; again ${value}`)).toBe("key=[redacted:MY_KEY]; again [redacted:MY_KEY]");
    expect(r.text(`b64 ${Buffer.from(value).toString("base64")}`)).toBe("b64 [redacted:MY_KEY]");
    expect(r.text(JSON.stringify({ v: 'pa"ss\\word' }))).toBe('{"v":"[redacted:QUOTED]"}');
  });

  it("redacts every string inside events, keys included, and leaves other values alone", () => {
    const r = new Redactor({ MY_KEY: value });
    const event = { type: "tool_result", ok: true, n: 3, summary: `env: MY_KEY=${value}`, nested: [{ [value]: value }] };
    expect(r.deep(event)).toEqual({ type: "tool_result", ok: true, n: 3, summary: "env: MY_KEY=[redacted:MY_KEY]", nested: [{ "[redacted:MY_KEY]": "[redacted:MY_KEY]" }] });
  });

  it("catches each line of a multi-line value (a PEM key printed line by line)", () => {
    const pem = "-----BEGIN KEY-----\nMIIBVwIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----";
    const r = new Redactor({ PEM: pem });
    expect(r.text("line: MIIBVwIBADANBgkqhkiG9w0BAQEFAASC")).toBe("line: [redacted:PEM]");
  });

  it("replaces the longest value first and grows with later turns' secrets", () => {
    const r = new Redactor({ SHORT: "abcdef" });
    r.add({ LONG: "abcdef-ghijkl" });
    expect(r.text("abcdef-ghijkl abcdef")).toBe("[redacted:LONG] [redacted:SHORT]");
  });

  it("leaves values shorter than 6 characters alone (a retry count, not a secret)", () => {
    const r = new Redactor({ RETRIES: "0", TINY: "abc" });
    expect(r.empty).toBe(true);
    expect(r.text("retry 0 abc")).toBe("retry 0 abc");
  });
});

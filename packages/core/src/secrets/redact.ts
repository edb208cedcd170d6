import { MIN_SECRET_LENGTH } from "./store.ts";

/**
 * Replaces the values of the secrets injected into a run with
 * `[redacted:NAME]` in everything Loopy stores or pushes for it: events, log
 * tails, checkpoint output, turn prompts and reasons, the stored diff. Built
 * per run from the resolved values; it also catches a value's base64 and
 * JSON-escaped forms and each long line of a multi-line value (a PEM key is
 * printed line by line). Values shorter than 6 characters are left alone
 * (stored secrets cannot be that short; a worker variable such as a retry
 * count is not worth wrecking logs for).
 */
export class Redactor {
  private needles: Array<{ text: string; replacement: string }> = [];

  constructor(secrets: Record<string, string> = {}) {
    this.add(secrets);
  }

  /** Also redact these (a later turn's secrets). */
  add(secrets: Record<string, string>): this {
    for (const [name, value] of Object.entries(secrets)) {
      const replacement = `[redacted:${name}]`;
      const forms = new Set([value, Buffer.from(value, "utf8").toString("base64"), JSON.stringify(value).slice(1, -1)]);
      if (value.includes("\n")) for (const line of value.split(/\r?\n/)) forms.add(line.trim());
      for (const text of forms) {
        if (text.length >= MIN_SECRET_LENGTH && !this.needles.some((n) => n.text === text)) this.needles.push({ text, replacement });
      }
    }
    // Longest first: a value that contains another is replaced whole.
    this.needles.sort((a, b) => b.text.length - a.text.length);
    return this;
  }

  get empty(): boolean {
    return this.needles.length === 0;
  }

  /** `text` with every secret value replaced. */
  text(text: string): string;
  text(text: string | null | undefined): string | null | undefined;
  text(text: string | null | undefined): string | null | undefined {
    if (!text || this.needles.length === 0) return text;
    let out = text;
    for (const { text: needle, replacement } of this.needles) if (out.includes(needle)) out = out.replaceAll(needle, replacement);
    return out;
  }

  /** `value` with every string inside it (object keys too) redacted. */
  deep<T>(value: T): T {
    if (this.needles.length === 0) return value;
    if (typeof value === "string") return this.text(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.deep(v)) as T;
    if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [this.text(k), this.deep(v)])) as T;
    }
    return value;
  }
}

import { MIN_SECRET_LENGTH } from "./store.ts";

/**
 * The shortest run of a secret's form that counts as a leak (K): runs of a
 * value (or of one of its encodings, below) of at least `pieceLength(n)`
 * characters are redacted, shorter ones are left alone.
 *
 * K = n for n < 12 (a short value is matched whole only), else
 * max(12, min(24, ceil(n / 2))):
 *  - at least 12: an 8-character run of a value turns up in ordinary text (a
 *    word, a hash prefix, "password"), a 12-character run of a random value
 *    does not (62^12 ≈ 3·10^21), so logs stay intact;
 *  - at most half the form: half of a 40-character key (20 characters) is
 *    caught, a 40-character key must be cut into 3 pieces to get through;
 *  - at most 24: a long value (a PEM key, 1.7 KB) is still caught one 64-character
 *    line at a time; a 24-character run of a random value is 140+ bits and
 *    never a coincidence, and a larger K would only make long values easier
 *    to leak piecewise.
 * The form, not the value, sets K: hex (two characters a byte) is caught
 * from 24 hex digits (12 bytes) up, base64 from 24 characters (18 bytes).
 */
export function pieceLength(n: number): number {
  if (n < PIECE_FLOOR) return n;
  return Math.max(PIECE_FLOOR, Math.min(PIECE_CAP, Math.ceil(n / 2)));
}
export const PIECE_FLOOR = 12;
const PIECE_CAP = 24;

/** One way a secret can appear in text: `text` has no ignorable characters; runs of at least `min` characters of it count. */
export interface SecretForm {
  text: string;
  min: number;
}

/**
 * Characters skipped when matching (a value printed with spaces, split across
 * lines, wrapped): ASCII and Unicode whitespace as `\s` knows it, NEL, soft
 * hyphen, zero-width space/joiners, word joiner and BOM.
 */
export function isIgnorable(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  return c >= 0x85 && isWideIgnorable(c);
}

function isWideIgnorable(c: number): boolean {
  return (
    c === 0x85 ||
    c === 0xa0 ||
    c === 0xad ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200d) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x2060 ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

function stripIgnorable(text: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    if (!isIgnorable(text.charCodeAt(i))) continue;
    out += text.slice(from, i);
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** A PEM armor line (`-----BEGIN RSA PRIVATE KEY-----`): public, the same in every key. */
const ARMOR = /^[ \t]*-----(?:BEGIN|END)[^\r\n]*-----[ \t]*$/m;
const ARMOR_LINES = /^[ \t]*-----(?:BEGIN|END)[^\r\n]*-----[ \t]*$/gm;

/**
 * Every form of `value` the Redactor looks for, whitespace removed, deduplicated.
 * A value with PEM armor is matched whole in each encoding, and piecewise only
 * between its armor lines (the armor alone is public text that should not be
 * redacted from every log that mentions a key). Each line of a multi-line value
 * (armor excepted) is matched whole too.
 */
export function secretForms(value: string): SecretForm[] {
  const forms = new Map<string, number>();
  const add = (raw: string, whole: boolean) => {
    const text = stripIgnorable(raw);
    if (text.length < MIN_SECRET_LENGTH) return;
    const min = whole ? text.length : pieceLength(text.length);
    const known = forms.get(text);
    if (known === undefined || min < known) forms.set(text, min);
  };
  // A short value is only ever matched whole, in every encoding.
  const short = stripIgnorable(value).length < PIECE_FLOOR;
  if (ARMOR.test(value)) {
    for (const form of encodings(value)) add(form, true);
    for (const segment of value.split(ARMOR_LINES)) {
      const body = segment.replace(/^[\r\n]+|[\r\n]+$/g, "");
      if (body) for (const form of encodings(body)) add(form, short);
    }
  } else {
    for (const form of encodings(value)) add(form, short);
  }
  if (/[\r\n]/.test(value)) {
    for (const line of value.split(/\r?\n|\r/)) if (!ARMOR.test(line)) add(line.trim(), true);
  }
  return [...forms].map(([text, min]) => ({ text, min }));
}

/** The value as is, reversed, hex (both cases, and reversed), base64 and base64url (three alignments), JSON-escaped, URL-encoded. */
function encodings(value: string): string[] {
  const bytes = Buffer.from(value, "utf8");
  const hex = bytes.toString("hex");
  const xeh = reverse(hex);
  const out = [value, reverse(value), hex, hex.toUpperCase(), xeh, xeh.toUpperCase()];
  for (const b64 of base64Forms(bytes)) out.push(b64, b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""));
  const json = JSON.stringify(value).slice(1, -1);
  out.push(
    json,
    json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`),
    JSON.stringify(json).slice(1, -1),
  );
  out.push(...urlForms(value));
  return [...new Set(out)];
}

/**
 * The standard base64 of the bytes (with padding), and the characters of the
 * base64 of any longer stream that holds the bytes at offset 1 and 2 (mod 3)
 * which depend on these bytes alone; offset 0 is a prefix of the first.
 */
function base64Forms(bytes: Buffer): string[] {
  const out = [bytes.toString("base64")];
  for (const shift of [1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes, Buffer.alloc(2)]).toString("base64");
    const first = Math.ceil((8 * shift) / 6);
    const end = Math.floor((8 * (shift + bytes.length)) / 6);
    if (end > first) out.push(encoded.slice(first, end));
  }
  return out;
}

/** encodeURIComponent, the stricter RFC 3986 form (!'()* escaped), '/' kept (Python's quote), lower-case escapes, '+' for spaces. */
function urlForms(value: string): string[] {
  let base: string;
  try {
    base = encodeURIComponent(value);
  } catch {
    return []; // a lone surrogate: no encoder would produce anything sensible either
  }
  const strict = base.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const out = new Set<string>();
  for (const form of [base, strict, base.replace(/%2F/g, "/")]) {
    out.add(form);
    out.add(form.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()));
    if (form.includes("%20")) out.add(form.replace(/%20/g, "+"));
  }
  return [...out];
}

/** Reversed by code point (an emoji stays one), as `rev` or Python's [::-1] would. */
function reverse(text: string): string {
  return Array.from(text).reverse().join("");
}

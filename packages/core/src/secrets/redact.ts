import { isIgnorable, PIECE_FLOOR, secretForms } from "./redact-forms.ts";
import { MIN_SECRET_LENGTH } from "./store.ts";

/**
 * Replaces the values of the secrets injected into a run with
 * `[redacted:NAME]` in everything Loopy stores or pushes for it: events, log
 * tails, checkpoint output, turn prompts and reasons, the stored diff. Built
 * per run from the resolved values (`add` at each turn).
 *
 * Caught, for each value of at least MIN_SECRET_LENGTH (6) characters:
 *  - the value; reversed (by code point); its UTF-8 bytes in hex (lower and
 *    upper case, and the hex string reversed); base64 and base64url (padded
 *    or not, and inside a longer base64 stream at any of the 3 byte
 *    alignments); JSON-escaped (as JSON.stringify writes it, with non-ASCII
 *    as \uXXXX, and escaped twice); URL-encoded (encodeURIComponent, RFC 3986
 *    strict, '/' kept, lower-case escapes, '+' for spaces);
 *  - each of those with whitespace inserted or changed anywhere: spaces,
 *    tabs, line breaks ("\n", "\r\n": split across lines, wrapped at any
 *    width), Unicode spaces, zero-width characters, soft hyphens, BOM;
 *  - any run of at least K characters of each of those forms, K =
 *    `pieceLength(form length)` = max(12, min(24, ceil(length / 2))): half of a
 *    40-character key, any 24 characters of a long one (see redact-forms.ts
 *    for why). A value shorter than 12 characters is only matched whole (in
 *    each form). A PEM value is matched piecewise between its armor lines (the
 *    `-----BEGIN ...-----` lines alone are public and left alone), and each line
 *    of a multi-line value is matched whole as well.
 * The whole match is replaced, whitespace inside it included; overlapping
 * matches of different secrets become one `[redacted:A][redacted:B]`, a match
 * inside another is replaced by the outer one's name.
 *
 * NOT caught: a value re-encoded in any way not listed (encrypted, hashed,
 * compressed, base32, rot13, upper-/lower-cased, HTML entities, escaped by a
 * shell or a language other than JSON, base64 of its hex, ...); a value cut into
 * pieces shorter than K or with anything but whitespace between its
 * characters (every other character, one character per line with line
 * numbers, interleaved with other text); a value split across separately
 * redacted strings (two events, two log lines) unless each piece is K long;
 * a value whose leak is a description of it (its length, its first 8 characters).
 * Runs of a value that repeats itself (the same 12 characters more than 4
 * times in one form, "aaaa…") may be missed; the value whole is still caught.
 * And the reverse cost: a run of K or more characters of public text inside a
 * secret (a URL's host and path in a connection string, a field name in a
 * credentials JSON) is redacted wherever it appears.
 *
 * The matcher is built once per `add` (see Matcher): seeds of S = min(12,
 * shortest form) characters, found with a rolling hash over the text's
 * non-whitespace characters and extended against their form. A text without
 * any secret costs one pass with one bit test a character and allocates
 * nothing (8 MB with 5 keys: well under 100 ms).
 */
export class Redactor {
  private readonly known = new Set<string>();
  private readonly names: string[] = [];
  private readonly forms: Array<{ text: string; min: number; name: number }> = [];
  private matcher: Matcher | null = null;

  constructor(secrets: Record<string, string> = {}) {
    this.add(secrets);
  }

  /** Also redact these (a later turn's secrets). Adding a name/value pair again does nothing. */
  add(secrets: Record<string, string>): this {
    let changed = false;
    for (const [name, value] of Object.entries(secrets)) {
      if (typeof value !== "string" || value.length < MIN_SECRET_LENGTH) continue;
      const key = `${name}\u0000${value}`;
      if (this.known.has(key)) continue;
      this.known.add(key);
      let id = this.names.indexOf(name);
      if (id < 0) id = this.names.push(name) - 1;
      for (const form of secretForms(value)) this.forms.push({ ...form, name: id });
      changed = true;
    }
    if (changed && this.forms.length > 0) this.matcher = new Matcher([...this.forms]);
    return this;
  }

  get empty(): boolean {
    return this.matcher === null;
  }

  /** `text` with every secret value replaced. */
  text(text: string): string;
  text(text: string | null | undefined): string | null | undefined;
  text(text: string | null | undefined): string | null | undefined {
    if (!text || !this.matcher) return text;
    const found = this.matcher.scan(text);
    if (!found) return text;
    const parts: string[] = [];
    let at = 0;
    for (const span of merge(found)) {
      parts.push(text.slice(at, span.start));
      for (const name of span.names) parts.push(`[redacted:${this.names[name]}]`);
      at = span.end;
    }
    parts.push(text.slice(at));
    return parts.join("");
  }

  /** The names of the secrets found in `text` (each once, in order of first appearance); empty when there are none. For callers that refuse or flag content rather than rewrite it. */
  hits(text: string | null | undefined): string[] {
    if (!text || !this.matcher) return [];
    const found = this.matcher.scan(text);
    if (!found) return [];
    const ids = new Set<number>();
    for (let k = 2; k < found.length; k += 3) ids.add(found[k] as number);
    return [...ids].map((id) => this.names[id] as string);
  }

  /** `value` with every string inside it (object keys too) redacted. */
  deep<T>(value: T): T {
    if (!this.matcher) return value;
    if (typeof value === "string") return this.text(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.deep(v)) as T;
    if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [this.text(k), this.deep(v)])) as T;
    }
    return value;
  }
}

/**
 * Matches (flat triples: index of the first matched character, index after
 * the last, secret) in text order, joined where they overlap (a match inside
 * another dropped).
 */
function merge(found: number[]): Array<{ start: number; end: number; names: number[] }> {
  const order = Array.from({ length: found.length / 3 }, (_, k) => 3 * k);
  order.sort(
    (a, b) =>
      (found[a] as number) - (found[b] as number) || (found[b + 1] as number) - (found[a + 1] as number) || a - b,
  );
  const spans: Array<{ start: number; end: number; names: number[] }> = [];
  for (const k of order) {
    const start = found[k] as number;
    const end = found[k + 1] as number;
    const name = found[k + 2] as number;
    const last = spans[spans.length - 1];
    if (!last || start >= last.end) spans.push({ start, end, names: [name] });
    else if (end > last.end) {
      last.end = end;
      if (!last.names.includes(name)) last.names.push(name);
    }
  }
  return spans;
}

const BASE = 0x01000193;
const MIX = 0x9e3779b1;
const REPEATS = 4;

/**
 * Finds, in a text, every run of at least `min` characters of any form
 * (whitespace in the text skipped).
 *
 * Seeds: windows of S characters of each form, one every `min - S + 1`
 * offsets, so that every run of `min` characters holds one whole (its first
 * seed starts at most `min - S` characters into it); a window already seeded
 * REPEATS times in the same form is left out (so that a repetitive value, "aaaa…",
 * does not make every character of a text a thousand candidates; runs of such a
 * value may then be missed). A bit set of the seeds' hashes (mostly zeros, small enough
 * for the CPU cache) rejects almost every window of an ordinary text; the rest
 * are looked up in an open-addressing table, checked, and extended both ways
 * against their form.
 */
class Matcher {
  private readonly seed: number;
  private readonly outPow: number;
  private readonly filterShift: number;
  private readonly filter: Int32Array;
  private readonly shift: number;
  private readonly mask: number;
  /** Slot i: hash at 2i, entry + 1 at 2i + 1 (0: empty). */
  private readonly table: Int32Array;
  private readonly entryForm: Int32Array;
  private readonly entryOffset: Int32Array;
  private readonly ringChar: Uint16Array;
  private readonly ringPos: Int32Array;
  /** Per form, see `extend`; reset (when `dirty`) at each scan. */
  private readonly covered: Int32Array;
  private dirty = false;
  /** Set by `extend`: where the match it accepted starts and ends in the text. */
  private matchStart = 0;
  private matchEnd = 0;

  constructor(private readonly forms: ReadonlyArray<{ text: string; min: number; name: number }>) {
    let seed = PIECE_FLOOR;
    for (const f of forms) seed = Math.min(seed, f.text.length);
    this.seed = seed;
    let pow = 1;
    for (let i = 0; i < seed; i++) pow = Math.imul(pow, BASE);
    this.outPow = pow;
    let bound = 0;
    for (const f of forms) bound += Math.floor((f.text.length - seed) / (f.min - seed + 1)) + 1;
    let filterBits = 16;
    while (filterBits < 24 && 1 << filterBits < bound * 64) filterBits++;
    this.filterShift = 32 - filterBits;
    this.filter = new Int32Array(1 << (filterBits - 5));
    let bits = 4;
    while (1 << bits < bound * 2) bits++;
    this.shift = 32 - bits;
    this.mask = (1 << bits) - 1;
    this.table = new Int32Array(2 << bits);
    this.entryForm = new Int32Array(bound);
    this.entryOffset = new Int32Array(bound);
    let count = 0;
    forms.forEach((f, index) => {
      const t = f.text;
      const step = f.min - seed + 1;
      next: for (let offset = 0; offset + seed <= t.length; offset += step) {
        let h = 0;
        for (let i = 0; i < seed; i++) h = (Math.imul(h, BASE) + t.charCodeAt(offset + i)) | 0;
        const mixed = Math.imul(h, MIX);
        let slot = mixed >>> this.shift;
        let same = 0;
        for (let e = this.table[2 * slot + 1] as number; e !== 0; e = this.table[2 * slot + 1] as number) {
          if (
            this.table[2 * slot] === h &&
            this.entryForm[e - 1] === index &&
            t.startsWith(t.slice(offset, offset + seed), this.entryOffset[e - 1]) &&
            ++same === REPEATS
          )
            continue next;
          slot = (slot + 1) & this.mask;
        }
        const bit = mixed >>> this.filterShift;
        this.filter[bit >>> 5] = (this.filter[bit >>> 5] as number) | (1 << (bit & 31));
        this.table[2 * slot] = h;
        this.table[2 * slot + 1] = count + 1;
        this.entryForm[count] = index;
        this.entryOffset[count] = offset;
        count++;
      }
    });
    this.ringChar = new Uint16Array(seed);
    this.ringPos = new Int32Array(seed);
    this.covered = new Int32Array(forms.length);
  }

  /** Every match in `text` as flat triples (start, end, secret), null when there is none. */
  scan(text: string): number[] | null {
    const seed = this.seed;
    const outPow = this.outPow;
    const filter = this.filter;
    const filterShift = this.filterShift;
    const ringChar = this.ringChar;
    const ringPos = this.ringPos;
    ringChar.fill(0);
    if (this.dirty) {
      this.covered.fill(0);
      this.dirty = false;
    }
    const length = text.length;
    let found: number[] | null = null;
    let h = 0;
    let ring = 0;
    let count = 0;
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c <= 32 ? c === 32 || (c >= 9 && c <= 13) : c >= 0x85 && isIgnorable(c)) continue;
      h = (Math.imul(h, BASE) + c - Math.imul(ringChar[ring] as number, outPow)) | 0;
      ringChar[ring] = c;
      ringPos[ring] = i;
      if (++ring === seed) ring = 0;
      if (++count < seed) continue;
      const mixed = Math.imul(h, MIX);
      const bit = mixed >>> filterShift;
      if (((filter[bit >>> 5] as number) & (1 << (bit & 31))) === 0) continue;
      found = this.probe(text, i, count, ring, h, mixed, found);
    }
    return found;
  }

  /** The table's entries for the window ending at text[i], each checked and extended (`extend`). */
  private probe(
    text: string,
    i: number,
    count: number,
    ring: number,
    h: number,
    mixed: number,
    found: number[] | null,
  ): number[] | null {
    const table = this.table;
    let slot = mixed >>> this.shift;
    for (let entry = table[2 * slot + 1] as number; entry !== 0; entry = table[2 * slot + 1] as number) {
      if (table[2 * slot] === h && this.extend(text, i, count, ring, entry - 1)) {
        const form = this.forms[this.entryForm[entry - 1] as number] as { name: number };
        found ??= [];
        found.push(this.matchStart, this.matchEnd, form.name);
      }
      slot = (slot + 1) & this.mask;
    }
    return found;
  }

  /**
   * The window ending at text[i] (the `count`-th non-whitespace character;
   * it starts at ring[ring]) as entry `entry`: checked, extended to the left
   * (as far as the previous seed of its form) and to the right as far as it
   * matches its form; true (`matchStart`, `matchEnd`) if long enough.
   * `covered[form]` is where (in non-whitespace characters) that form's last
   * match ended: a window inside it is skipped, a run that overlaps it counts
   * at any length (it continues that match).
   */
  private extend(text: string, i: number, count: number, ring: number, entry: number): boolean {
    const covered = this.covered;
    const formIndex = this.entryForm[entry] as number;
    const end = covered[formIndex] as number;
    if (end >= count) return false;
    const form = this.forms[formIndex] as { text: string; min: number };
    const t = form.text;
    const offset = this.entryOffset[entry] as number;
    const seed = this.seed;
    for (let k = 0, r = ring; k < seed; k++, r = r + 1 === seed ? 0 : r + 1) {
      if (t.charCodeAt(offset + k) !== this.ringChar[r]) return false;
    }
    let j = offset + seed;
    let last = i;
    for (let p = i + 1; j < t.length && p < text.length; p++) {
      const c = text.charCodeAt(p);
      if (isIgnorable(c)) continue;
      if (c !== t.charCodeAt(j)) break;
      last = p;
      j++;
    }
    let first = this.ringPos[ring] as number;
    let o = offset;
    const back = Math.max(0, offset - (form.min - seed));
    for (let p = first - 1; o > back && p >= 0; p--) {
      const c = text.charCodeAt(p);
      if (isIgnorable(c)) continue;
      if (c !== t.charCodeAt(o - 1)) break;
      first = p;
      o--;
    }
    const start = count - seed - (offset - o);
    if (j - o < form.min && start >= end) return false;
    covered[formIndex] = start + j - o;
    this.dirty = true;
    this.matchStart = first;
    this.matchEnd = last + 1;
    return true;
  }
}

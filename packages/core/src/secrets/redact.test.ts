import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pieceLength, secretForms } from "./redact-forms.ts";
import { Redactor } from "./redact.ts";

const KEY = "Zq7vK2pLm9XwR4tYb8NcD3fHj6GsA1eUo5iQ0zWx"; // 40 characters: K = 20
const R = "[redacted:KEY]";
const hex = (s: string) => Buffer.from(s, "utf8").toString("hex");
const rev = (s: string) => Array.from(s).reverse().join("");
const spaced = (s: string, sep: string) => Array.from(s).join(sep);
/** `form` between two sentences must become the token, the sentences kept. */
const around = (r: Redactor, form: string, token = R) =>
  expect(r.text(`before: ${form} :after`)).toBe(`before: ${token} :after`);

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
    const event = {
      type: "tool_result",
      ok: true,
      n: 3,
      summary: `env: MY_KEY=${value}`,
      nested: [{ [value]: value }],
    };
    expect(r.deep(event)).toEqual({
      type: "tool_result",
      ok: true,
      n: 3,
      summary: "env: MY_KEY=[redacted:MY_KEY]",
      nested: [{ "[redacted:MY_KEY]": "[redacted:MY_KEY]" }],
    });
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
    expect(r.hits("retry 0 abc")).toEqual([]);
  });

  it("keeps null, undefined and empty text as they are", () => {
    const r = new Redactor({ KEY });
    expect(r.text(null)).toBeNull();
    expect(r.text(undefined)).toBeUndefined();
    expect(r.text("")).toBe("");
  });

  describe("each form of a value", () => {
    const r = new Redactor({ KEY });

    it("the value itself, reversed, and hex in both cases (and the hex reversed)", () => {
      around(r, KEY);
      around(r, rev(KEY));
      around(r, hex(KEY));
      around(r, hex(KEY).toUpperCase());
      around(r, rev(hex(KEY)));
    });

    it("base64 and base64url, padded or not, and inside a longer base64 stream at every alignment", () => {
      const odd = `${KEY}x`; // 41 bytes: padding and '+' '/' are likely
      const ro = new Redactor({ KEY: odd });
      for (const form of [
        Buffer.from(odd).toString("base64"),
        Buffer.from(odd).toString("base64url"),
        Buffer.from(odd).toString("base64").replace(/=+$/, ""),
      ])
        around(ro, form);
      for (const prefix of ["", "a", "ab", "abc", "abcd"]) {
        for (const encoding of ["base64", "base64url"] as const) {
          const stream = Buffer.from(`${prefix}${KEY}--tail of the file`).toString(encoding);
          const out = r.text(`data: ${stream}`);
          // Only the few characters that mix the key's bytes with its neighbours' are left.
          expect(out, `${encoding} after ${prefix.length} bytes`).toMatch(
            /^data: [\w+/-]{0,7}\[redacted:KEY\][\w+/=-]{0,30}$/,
          );
          expect(r.hits(stream)).toEqual(["KEY"]);
        }
      }
    });

    it("JSON-escaped (JSON.stringify, \\u-escaped non-ASCII, escaped twice)", () => {
      const tricky = 'pa"ss\\wo\trd/"quoted"\\end\u00e9x';
      const rt = new Redactor({ T: tricky });
      const once = JSON.stringify(tricky).slice(1, -1);
      around(rt, once, "[redacted:T]");
      around(rt, JSON.stringify(once).slice(1, -1), "[redacted:T]");
      around(rt, once.replace("\u00e9", "\\u00e9"), "[redacted:T]");
      expect(rt.text(JSON.stringify({ nested: JSON.stringify({ secret: tricky }) }))).toBe(
        JSON.stringify({ nested: JSON.stringify({ secret: "[redacted:T]" }) }),
      );
    });

    it("URL-encoded, with upper- or lower-case escapes, strict or not, '+' for spaces, '/' kept", () => {
      const url = "p@ss/w0rd+key=abc&x y!z'(q)*~";
      const ru = new Redactor({ U: url });
      const enc = encodeURIComponent(url);
      around(ru, enc, "[redacted:U]");
      around(
        ru,
        enc.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()),
        "[redacted:U]",
      );
      around(
        ru,
        enc.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
        "[redacted:U]",
      );
      around(ru, enc.replace(/%20/g, "+"), "[redacted:U]");
      around(ru, enc.replace(/%2F/g, "/"), "[redacted:U]");
      expect(ru.text(`https://host/cb?token=${enc}&next=1`)).toBe("https://host/cb?token=[redacted:U]&next=1");
    });

    it("any of them spaced, tabbed, split across lines (\\n, \\r\\n) or with zero-width characters", () => {
      for (const form of [KEY, rev(KEY), hex(KEY), Buffer.from(KEY).toString("base64")]) {
        for (const sep of [" ", "  ", "\t", "\n", "\r\n", " \r\n\t", "\u200b", "\u00a0"]) around(r, spaced(form, sep));
        around(r, form.match(/.{1,7}/g)!.join("\n")); // wrapped at 7 columns
      }
      around(r, hex(KEY).match(/../g)!.join(" ")); // xxd -p style, byte by byte
      expect(r.text(`first line ${KEY.slice(0, 20)}\n${KEY.slice(20)} last line`)).toBe(`first line ${R} last line`);
    });

    it("a value with whitespace inserted anywhere (property)", () => {
      const ws = fc.constantFrom(" ", "\t", "\n", "\r\n", "   ");
      const alphabet = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
      fc.assert(
        fc.property(
          fc.array(alphabet, { minLength: 12, maxLength: 80 }),
          fc.array(fc.tuple(fc.nat(), ws), { maxLength: 30 }),
          (chars, inserts) => {
            const secret = chars.join("");
            const text = [...chars];
            for (const [at, w] of inserts) text.splice(1 + (at % (text.length - 1)), 0, w);
            const rp = new Redactor({ P: secret });
            expect(rp.text(`<< ${text.join("")} >>`)).toBe("<< [redacted:P] >>");
          },
        ),
        { numRuns: 300 },
      );
    });

    it("any run of at least K characters of any form, spaced, is caught; shorter runs of the value are not (property)", () => {
      const alphabet = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
      const ws = fc.constantFrom("", "", "", " ", "\n", "\r\n", "\t");
      fc.assert(
        fc.property(
          fc.array(alphabet, { minLength: 6, maxLength: 120 }),
          fc.nat(),
          fc.nat(),
          fc.nat(),
          fc.array(ws, { minLength: 400, maxLength: 400 }),
          (chars, pick, at, extra, gaps) => {
            const secret = chars.join("");
            const forms = secretForms(secret);
            const form = forms[pick % forms.length]!;
            const length = form.min + (extra % (form.text.length - form.min + 1));
            const from = at % (form.text.length - length + 1);
            const run = Array.from(form.text.slice(from, from + length), (c, k) =>
              k < length - 1 ? c + gaps[k] : c,
            ).join("");
            const rp = new Redactor({ P: secret });
            expect(rp.text(`<< ${run} >>`)).toBe("<< [redacted:P] >>");
            const k = pieceLength(secret.length);
            if (k > 6) {
              const piece = secret.slice(from % (secret.length - k + 2), (from % (secret.length - k + 2)) + k - 1);
              expect(rp.text(`<< ${piece} >>`)).toBe(`<< ${piece} >>`);
            }
          },
        ),
        { numRuns: 500 },
      );
    });

    it("any run of at least K characters of the value, its reverse or its hex; shorter runs are left alone", () => {
      expect(pieceLength(KEY.length)).toBe(20);
      around(r, KEY.slice(0, 20));
      around(r, KEY.slice(13, 33));
      around(r, KEY.slice(20));
      around(r, rev(KEY).slice(7, 27));
      around(r, spaced(KEY.slice(3, 23), " "));
      expect(pieceLength(80)).toBe(24);
      around(r, hex(KEY).slice(11, 35));
      around(r, hex(KEY).toUpperCase().slice(40, 64));
      around(r, Buffer.from(KEY).toString("base64").slice(5, 29));
      // 19 characters (under K), 23 hex digits: kept, as is everything around them.
      for (const piece of [KEY.slice(0, 19), KEY.slice(21), rev(KEY).slice(0, 19), hex(KEY).slice(11, 34)]) {
        expect(r.text(`x ${piece} y`)).toBe(`x ${piece} y`);
        expect(r.hits(piece)).toEqual([]);
      }
    });

    it("a piece run into the value's other text: only the piece goes", () => {
      expect(r.text(`abc${KEY.slice(10, 32)}xyz`)).toBe(`abc${R}xyz`);
      expect(r.text(`${KEY}${KEY}`)).toBe(`${R}${R}`);
      expect(r.text(`${KEY} ${KEY}`)).toBe(`${R} ${R}`);
    });
  });

  it("matches a short secret (under 12 characters) only whole, in every form", () => {
    const short = "x7Qp2Lm9Kz"; // 10
    const r = new Redactor({ S: short });
    for (const form of [
      short,
      rev(short),
      hex(short),
      hex(short).toUpperCase(),
      Buffer.from(short).toString("base64"),
      spaced(short, " "),
    ])
      around(r, form, "[redacted:S]");
    for (const piece of [short.slice(0, 9), short.slice(1), hex(short).slice(0, 18), hex(short).slice(2)])
      expect(r.text(`= ${piece} =`)).toBe(`= ${piece} =`);
  });

  it("leaves ordinary text, short words and 8-character coincidences alone", () => {
    const secret = "password-for-the-staging-db-2024!"; // not random: its words are everywhere
    const r = new Redactor({ KEY, DB: secret, RUN: "run-42" });
    const ordinary = [
      "diff --git a/src/index.ts b/src/index.ts",
      "Reset the password for the staging environment before 2024 ends.",
      "the-staging-db is up, password for-the-staging is not",
      `prefixes of the key: ${KEY.slice(0, 8)} ${KEY.slice(8, 16)} ${KEY.slice(30)}`,
      "commit 8f3a2c1d9e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b",
      "run-4 run-41 ran",
      "",
      "   \n\t  ",
    ].join("\n");
    expect(r.text(ordinary)).toBe(ordinary);
    expect(r.hits(ordinary)).toEqual([]);
    expect(r.text("log: run-42 started")).toBe("log: [redacted:RUN] started");
    // The price of catching pieces: K (17 here) characters of a secret's public text go too.
    expect(r.text("password-for-the-admin")).toBe("[redacted:DB]admin");
  });

  it("reports the names found (each once, in order), empty when none", () => {
    const r = new Redactor({ KEY, OTHER: "0123456789abcdefghij" });
    expect(r.hits(`a ${hex("0123456789abcdefghij")} b ${spaced(KEY, "\n")} c 0123456789abcdefghij`)).toEqual([
      "OTHER",
      "KEY",
    ]);
    expect(r.hits("nothing here")).toEqual([]);
    expect(r.hits(null)).toEqual([]);
  });

  it("overlapping and adjacent secrets", () => {
    const r = new Redactor({ A: "AAAA-secret-one-1234567", B: "1234567-secret-two-BBBB" });
    expect(r.text("<AAAA-secret-one-1234567-secret-two-BBBB>")).toBe("<[redacted:A][redacted:B]>");
    expect(r.text("<AAAA-secret-one-12345671234567-secret-two-BBBB>")).toBe("<[redacted:A][redacted:B]>");
    expect(r.text("<AAAA-secret-one-1234567 1234567-secret-two-BBBB>")).toBe("<[redacted:A] [redacted:B]>");
    expect(r.hits("AAAA-secret-one-1234567-secret-two-BBBB")).toEqual(["A", "B"]);
    // The same value under two names: the first name, both reported.
    const same = new Redactor({ FIRST: KEY, SECOND: KEY });
    expect(same.text(KEY)).toBe("[redacted:FIRST]");
    expect(same.hits(KEY)).toEqual(["FIRST", "SECOND"]);
  });

  describe("a multi-line PEM-like value", () => {
    const body = [
      "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
      "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu",
      "NMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ",
      "AASC==",
    ];
    const pem = `-----BEGIN PRIVATE KEY-----\n${body.join("\n")}\n-----END PRIVATE KEY-----`;
    const r = new Redactor({ PEM: pem });
    const P = "[redacted:PEM]";

    it("is caught whole, \\r\\n or JSON-escaped, re-wrapped, in base64", () => {
      around(r, pem, P);
      around(r, pem.replace(/\n/g, "\r\n"), P);
      around(r, JSON.stringify(pem).slice(1, -1), P);
      around(
        r,
        pem
          .replace(/\n/g, "")
          .match(/.{1,40}/g)!
          .join("\n"),
        P,
      );
      expect(r.text(`tls.key: ${Buffer.from(pem).toString("base64")}\nnext: 1`)).toBe(`tls.key: ${P}\nnext: 1`);
    });

    it("is caught line by line, and a run across lines; the armor lines alone are public", () => {
      for (const line of body) around(r, line, P);
      around(r, `${body[0]!.slice(40)}\n${body[1]!.slice(0, 10)}`, P);
      // A printed PEM with the body cut: the armor is kept, the body pieces are not.
      expect(r.text(`-----BEGIN PRIVATE KEY-----\n${body[1]}\n-----END PRIVATE KEY-----`)).toBe(
        `-----BEGIN PRIVATE KEY-----\n${P}\n-----END PRIVATE KEY-----`,
      );
      const doc = "Paste your key between -----BEGIN PRIVATE KEY----- and -----END PRIVATE KEY-----.";
      expect(r.text(doc)).toBe(doc);
    });
  });

  it("does NOT catch what it does not claim to (documented limits)", () => {
    const r = new Redactor({ KEY });
    const rot13 = KEY.replace(/[a-z]/gi, (c) =>
      String.fromCharCode(((c.toLowerCase().charCodeAt(0) - 97 + 13) % 26) + (c <= "Z" ? 65 : 97)),
    );
    const limits = [
      KEY.toLowerCase(), // re-cased
      rot13, // re-encoded in a way not listed
      Array.from(KEY)
        .filter((_, k) => k % 2 === 0)
        .join(""), // every other character
      Array.from(KEY).join(","), // separated by something other than whitespace
      `${KEY.slice(0, 14)} and ${KEY.slice(14, 28)} and ${KEY.slice(28)}`, // pieces shorter than K
    ];
    for (const text of limits) expect(r.text(text)).toBe(text);
    // Two log lines redacted one at a time: each half is K long, so both are caught; a third of it would not be.
    expect([KEY.slice(0, 20), KEY.slice(20)].map((line) => r.text(line))).toEqual([R, R]);
  });

  it("a value with regex metacharacters", () => {
    const meta = "a.b*c+(d)[e]{f}|g^h$i\\j?k/l";
    const r = new Redactor({ META: meta });
    const M = "[redacted:META]";
    around(r, meta, M);
    around(r, spaced(meta, " "), M);
    around(r, JSON.stringify(meta).slice(1, -1), M);
    expect(r.text("a.b*c+(d) and abxcdd")).toBe("a.b*c+(d) and abxcdd");
    expect(r.text("$&$1 `$'")).toBe("$&$1 `$'");
  });

  it("unicode values: as is, reversed by code point, hex and base64 of UTF-8, \\u-escaped, URL-encoded, spaced", () => {
    const uni = "pässwörd-ключ-🔑-秘密-42";
    const r = new Redactor({ UNI: uni });
    const U = "[redacted:UNI]";
    for (const form of [
      uni,
      rev(uni),
      hex(uni),
      Buffer.from(uni).toString("base64"),
      JSON.stringify(uni)
        .slice(1, -1)
        .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`),
      encodeURIComponent(uni),
      spaced(uni, " "),
    ]) {
      around(r, form, U);
    }
    expect(r.text(`${uni.slice(0, 9)} 🔑 秘密`)).toBe(`${uni.slice(0, 9)} 🔑 秘密`);
  });

  it("adding the same secrets again changes nothing; a changed value keeps the old one redacted too", () => {
    const r = new Redactor({ KEY });
    expect(secretForms(KEY).map((f) => f.min)).toEqual([20, 20, 24, 24, 24, 24, 24, 24, 24, 24]);
    r.add({ KEY });
    r.add({ KEY: "a-new-value-for-the-key" });
    expect(r.text(`${KEY} a-new-value-for-the-key`)).toBe(`${R} ${R}`);
  });

  it("benchmark: 8 MB of ordinary text with 5 secrets of 40 characters", () => {
    let seed = 42;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const secrets: Record<string, string> = {};
    for (let s = 0; s < 5; s++)
      secrets[`SECRET_${s}`] = Array.from({ length: 40 }, () => chars[Math.floor(random() * chars.length)]).join("");
    const words =
      "the of and to in is that for it as with was on be by at this diff src index ts const function return await error warning test passed failed run agent checkpoint 200 404 OK GET POST /api/runs".split(
        " ",
      );
    const lines: string[] = [];
    let size = 0;
    while (size < 8 * 1024 * 1024) {
      const n = 4 + Math.floor(random() * 14);
      const parts = [
        `2024-05-01T12:${String(Math.floor(random() * 60)).padStart(2, "0")}:00Z`,
        Math.floor(random() * 2 ** 32).toString(16),
      ];
      for (let w = 0; w < n; w++) parts.push(words[Math.floor(random() * words.length)] as string);
      const line = parts.join(" ");
      lines.push(line);
      size += line.length + 1;
    }
    const text = lines.join("\n");
    const r = new Redactor(secrets);
    for (const line of lines.slice(0, 2000)) r.text(line); // warm up
    let started = performance.now();
    const out = r.text(text);
    const whole = performance.now() - started;
    expect(out).toBe(text);
    started = performance.now();
    for (const line of lines) r.text(line);
    const perLine = performance.now() - started;
    const leaky = [text.slice(0, 4_000_000), secrets.SECRET_3, text.slice(4_000_000)].join(" ");
    started = performance.now();
    const redacted = r.text(leaky);
    const withLeak = performance.now() - started;
    expect(r.hits(redacted)).toEqual([]);
    expect(redacted).toContain("[redacted:SECRET_3]");
    console.log(
      `Redactor benchmark: ${(text.length / 1024 / 1024).toFixed(1)} MB, 5 secrets of 40: ${whole.toFixed(0)} ms in one string, ${perLine.toFixed(0)} ms as ${lines.length} lines, ${withLeak.toFixed(0)} ms with one leak`,
    );
  });
});

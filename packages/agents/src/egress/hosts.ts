import { lookup } from "node:dns/promises";
import net from "node:net";

/**
 * The address policy of the general egress proxy: host names and ports in one
 * canonical form, the allow and deny lists, and the non-public ranges. See
 * `egress.ts` for the whole picture.
 */

/**
 * Addresses the general proxy never connects to unless the exact host:port is
 * allow-listed: they reach the worker's own machine (Loopy's Postgres, Redis,
 * web) or its private network, including a cloud's metadata service (169.254.169.254).
 * IPv4-mapped IPv6 addresses are checked as their IPv4 address (BlockList does that).
 */
const NON_PUBLIC: Array<[string, number, "ipv4" | "ipv6", string]> = [
  ["127.0.0.0", 8, "ipv4", "loopback"],
  ["0.0.0.0", 8, "ipv4", "unspecified"],
  ["169.254.0.0", 16, "ipv4", "link-local"],
  ["10.0.0.0", 8, "ipv4", "private"],
  ["172.16.0.0", 12, "ipv4", "private"],
  ["192.168.0.0", 16, "ipv4", "private"],
  ["100.64.0.0", 10, "ipv4", "private (shared address space)"],
  ["224.0.0.0", 4, "ipv4", "multicast"],
  ["240.0.0.0", 4, "ipv4", "reserved"],
  ["::1", 128, "ipv6", "loopback"],
  ["::", 128, "ipv6", "unspecified"],
  ["fe80::", 10, "ipv6", "link-local"],
  ["fec0::", 10, "ipv6", "private (site-local)"],
  ["fc00::", 7, "ipv6", "private"],
  ["ff00::", 8, "ipv6", "multicast"],
];
const nonPublic = NON_PUBLIC.map(([prefix, bits, family, kind]) => {
  const list = new net.BlockList();
  list.addSubnet(prefix, bits, family);
  return { list, kind };
});

/** Why `address` is not a public one, or null when it is. */
function nonPublicKind(address: string): string | null {
  const family = net.isIPv4(address) ? "ipv4" : "ipv6";
  return nonPublic.find((n) => n.list.check(address, family))?.kind ?? null;
}

/**
 * A host name or IP in one canonical form, or null when it is not a valid
 * host: lower case, punycode, no trailing dot, IPv6 without brackets and
 * compressed, odd IPv4 spellings ("127.1", "0x7f.1") as dotted quads, and an
 * IPv4-mapped IPv6 address as its IPv4 address. The URL parser does most of it,
 * the same way clients do, so "allowed" and "connected to" agree.
 */
export function canonicalHost(host: string): string | null {
  let h = host.trim();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  if (!h || /[\s/\\?#@]/.test(h)) return null;
  let parsed: string;
  try {
    parsed = new URL(`http://${net.isIPv6(h) ? `[${h}]` : h}/`).hostname;
  } catch {
    return null;
  }
  if (parsed.startsWith("[")) {
    const v6 = parsed.slice(1, -1);
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
    if (!mapped) return v6;
    const [hi, lo] = [Number.parseInt(mapped[1]!, 16), Number.parseInt(mapped[2]!, 16)];
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
  }
  return parsed.replace(/\.$/, "") || null;
}

/** "host:port", with brackets for IPv6, as targets are named in refusals and logs. */
export function hostPort(host: string, port: number): string {
  return `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** Splits "host", "host:port", "[v6]", "[v6]:port" (a bare IPv6 address has no port). */
export function splitHostPort(value: string): { host: string; port: number | null } | null {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] === undefined ? null : Number(bracketed[2]) };
  if (value.split(":").length > 2) return { host: value, port: null };
  const colon = value.lastIndexOf(":");
  if (colon < 0) return { host: value, port: null };
  const port = value.slice(colon + 1);
  if (!/^\d+$/.test(port)) return null;
  return { host: value.slice(0, colon), port: Number(port) };
}

export function validPort(port: number | null): boolean {
  return port === null || (Number.isInteger(port) && port >= 1 && port <= 65_535);
}

interface HostRule {
  /** Canonical host, or the suffix (".example.com") for a wildcard. */
  host: string;
  wildcard: boolean;
  /** Null: 80 and 443 for allow rules, every port for deny rules. */
  port: number | null;
}

/** An allowHosts/denyHosts entry as a rule; throws on a malformed one (a configuration error, better loud at start). */
function parseRule(entry: string, what: string): HostRule {
  const parts = splitHostPort(entry.trim());
  if (!parts || !validPort(parts.port)) throw new Error(`egress: bad ${what} entry "${entry}"`);
  const wildcard = parts.host.startsWith("*.");
  const host = canonicalHost(wildcard ? parts.host.slice(2) : parts.host);
  if (!host || host.includes("*")) throw new Error(`egress: bad ${what} entry "${entry}"`);
  return { host: wildcard ? `.${host}` : host, wildcard, port: parts.port };
}

function ruleMatches(rule: HostRule, host: string, port: number, defaultPorts: number[] | null): boolean {
  const hostOk = rule.wildcard ? host.endsWith(rule.host) && host.length > rule.host.length : host === rule.host;
  if (!hostOk) return false;
  if (rule.port !== null) return rule.port === port;
  return defaultPorts === null || defaultPorts.includes(port);
}

export type Verdict = { ok: true; addresses: string[] } | { ok: false; status: number; reason: string };

/**
 * The checks of the general proxy, in order: the allowlist (before any DNS,
 * so a refused name costs no lookup), the deny list by name, then every
 * address the name resolves to against the deny list and the non-public
 * ranges. The caller connects to these very addresses, never looking the
 * name up again (DNS rebinding).
 */
export class Policy {
  private readonly allow: HostRule[];
  private readonly deny: HostRule[];

  private constructor(allow: HostRule[], deny: HostRule[]) {
    this.allow = allow;
    this.deny = deny;
  }

  /** Deny entries that are names are resolved once, so "localhost:5432" also refuses 127.0.0.1:5432 and [::1]:5432. */
  static async create(allowHosts: string[], denyHosts: string[]): Promise<Policy> {
    const allow = allowHosts.map((e) => parseRule(e, "allowHosts"));
    const deny = denyHosts.map((e) => parseRule(e, "denyHosts"));
    for (const rule of [...deny]) {
      if (rule.wildcard || net.isIP(rule.host)) continue;
      const found = await lookup(rule.host, { all: true }).catch(() => []);
      for (const a of found) {
        const host = canonicalHost(a.address);
        if (host) deny.push({ host, wildcard: false, port: rule.port });
      }
    }
    return new Policy(allow, deny);
  }

  private denied(host: string, port: number): boolean {
    return this.deny.some((r) => ruleMatches(r, host, port, null));
  }

  /** An allow rule names exactly this host:port (no wildcard, an explicit port): the one way to reach a non-public address. */
  private exact(host: string, port: number): boolean {
    return this.allow.some((r) => !r.wildcard && r.port === port && r.host === host);
  }

  async check(host: string, port: number): Promise<Verdict> {
    if (this.denied(host, port))
      return { ok: false, status: 403, reason: `refused: ${hostPort(host, port)} is on the deny list` };
    if (!this.allow.some((r) => ruleMatches(r, host, port, [80, 443]))) {
      return { ok: false, status: 403, reason: `refused: ${hostPort(host, port)} is not in the allowed hosts` };
    }
    let found: Array<{ address: string }>;
    try {
      found = net.isIP(host) ? [{ address: host }] : await lookup(host, { all: true });
    } catch (error) {
      return {
        ok: false,
        status: 502,
        reason: `cannot resolve ${host}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      };
    }
    const addresses: string[] = [];
    for (const { address: raw } of found) {
      const address = canonicalHost(raw) ?? raw;
      if (this.denied(address, port))
        return {
          ok: false,
          status: 403,
          reason: `refused: ${host} resolves to ${hostPort(address, port)}, on the deny list`,
        };
      const kind = nonPublicKind(address);
      if (kind && !this.exact(host, port) && !this.exact(address, port)) {
        return {
          ok: false,
          status: 403,
          reason: `refused: ${host} resolves to a ${kind} address (${address}); only an exact host:port in the allowed hosts may`,
        };
      }
      addresses.push(address);
    }
    if (addresses.length === 0) return { ok: false, status: 502, reason: `cannot resolve ${host}: no address` };
    return { ok: true, addresses };
  }
}

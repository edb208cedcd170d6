import { describe, expect, it } from "vitest";
import type { IncomingMessage } from "node:http";
import {
  CLIENT_ADDRESS_HEADER,
  clientAddress,
  markClientAddress,
  normalizeAddress,
  trustedProxies,
} from "./client-address.ts";

describe("clientAddress", () => {
  it("is the socket's peer when no proxy is trusted, whatever X-Forwarded-For says", () => {
    expect(clientAddress("203.0.113.7", "1.2.3.4", null)).toBe("203.0.113.7");
    expect(clientAddress("::ffff:203.0.113.7", ["1.2.3.4", "5.6.7.8"], null)).toBe("203.0.113.7");
    expect(clientAddress(undefined, "1.2.3.4", null)).toBe("unknown");
  });

  it("is the peer when the peer is not one of the trusted proxies", () => {
    const trusted = trustedProxies(["10.0.0.0/8"]);
    expect(clientAddress("203.0.113.7", "1.2.3.4", trusted)).toBe("203.0.113.7");
  });

  it("behind trusted proxies: the rightmost hop no trusted proxy stands for; what the client wrote further left is ignored", () => {
    const trusted = trustedProxies(["127.0.0.1", "10.0.0.0/8", "fd00::/8"]);
    expect(clientAddress("127.0.0.1", "198.51.100.9", trusted)).toBe("198.51.100.9");
    // The client sent "X-Forwarded-For: 1.2.3.4"; the proxy appended the address it saw.
    expect(clientAddress("127.0.0.1", "1.2.3.4, 198.51.100.9", trusted)).toBe("198.51.100.9");
    // Two proxies: the inner one (10.1.1.1) is trusted too, so the walk goes one further.
    expect(clientAddress("::ffff:127.0.0.1", ["1.2.3.4, 198.51.100.9", "10.1.1.1"], trusted)).toBe("198.51.100.9");
    expect(clientAddress("fd00::2", "[2001:db8::5]:4711", trusted)).toBe("2001:db8::5");
    // No header, or a malformed hop: the proxy itself (one shared limit rather than a chosen one).
    expect(clientAddress("127.0.0.1", undefined, trusted)).toBe("127.0.0.1");
    expect(clientAddress("127.0.0.1", "1.2.3.4, unknown", trusted)).toBe("127.0.0.1");
  });

  it("normalizes how addresses are written", () => {
    expect(normalizeAddress(" ::FFFF:10.0.0.1 ")).toBe("10.0.0.1");
    expect(normalizeAddress("10.0.0.1:8080")).toBe("10.0.0.1");
    expect(normalizeAddress("[::1]:3000")).toBe("::1");
    expect(normalizeAddress("2001:DB8::1")).toBe("2001:db8::1");
  });
});

describe("markClientAddress", () => {
  const request = (peer: string, headers: Record<string, string>) =>
    ({ socket: { remoteAddress: peer }, headers: { ...headers } }) as unknown as IncomingMessage;

  it("overwrites a client's own address header and drops proxy headers from untrusted peers", () => {
    const req = request("203.0.113.7", {
      [CLIENT_ADDRESS_HEADER]: "9.9.9.9",
      "x-forwarded-for": "1.2.3.4",
      "x-forwarded-proto": "https",
      forwarded: "for=1.2.3.4",
      "x-real-ip": "1.2.3.4",
      host: "h",
    });
    markClientAddress(req, trustedProxies(["10.0.0.0/8"]));
    expect(req.headers).toEqual({ [CLIENT_ADDRESS_HEADER]: "203.0.113.7", host: "h" });
  });

  it("keeps a trusted proxy's headers", () => {
    const req = request("10.0.0.2", { "x-forwarded-for": "198.51.100.9", "x-forwarded-proto": "https" });
    markClientAddress(req, trustedProxies(["10.0.0.0/8"]));
    expect(req.headers).toEqual({
      [CLIENT_ADDRESS_HEADER]: "198.51.100.9",
      "x-forwarded-for": "198.51.100.9",
      "x-forwarded-proto": "https",
    });
  });
});

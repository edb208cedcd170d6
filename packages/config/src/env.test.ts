import path from "node:path";
import { describe, expect, it } from "vitest";
import { inheritedEnv, loadEnv, masterKeyBytes, required } from "./env.ts";

describe("loadEnv", () => {
  it("applies the documented defaults", () => {
    const env = loadEnv({});
    expect(env.PORT).toBe(3000);
    expect(env.HOST).toBe("127.0.0.1");
    expect(env.LOOPY_HOME).toBe(path.resolve(".loopy"));
    expect(env.LOOPY_REDIS_PREFIX).toBe("loopy");
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it("treats empty variables as unset", () => {
    expect(loadEnv({ PORT: "", DATABASE_URL: "" }).PORT).toBe(3000);
  });

  it("names every bad variable in one error", () => {
    expect(() => loadEnv({ PORT: "99999", REDIS_URL: "not a url" })).toThrow(/PORT.*REDIS_URL|REDIS_URL.*PORT/);
  });

  it("says how to get a missing required value", () => {
    expect(() => required(loadEnv({}), "DATABASE_URL")).toThrow(/npm start/);
  });

  it("accepts a 32-byte master key as base64 or hex and says how to make one otherwise", () => {
    const bytes = Buffer.alloc(32, 7);
    expect(loadEnv({ LOOPY_MASTER_KEY: bytes.toString("base64") }).LOOPY_MASTER_KEY).toBeDefined();
    expect(loadEnv({ LOOPY_MASTER_KEY: bytes.toString("hex") }).LOOPY_MASTER_KEY).toBeDefined();
    expect(masterKeyBytes(bytes.toString("hex"))?.equals(bytes)).toBe(true);
    expect(() => loadEnv({ LOOPY_MASTER_KEY: Buffer.alloc(16).toString("base64") })).toThrow(
      /LOOPY_MASTER_KEY: must be 32 bytes.*openssl rand/,
    );
    expect(() => loadEnv({ LOOPY_MASTER_KEY: "hunter2" })).toThrow(/LOOPY_MASTER_KEY/);
  });

  it("sandboxes agents when it can unless LOOPY_SANDBOX=off", () => {
    expect(loadEnv({}).LOOPY_SANDBOX).toBe("auto");
    expect(loadEnv({ LOOPY_SANDBOX: "off" }).LOOPY_SANDBOX).toBe("off");
    expect(() => loadEnv({ LOOPY_SANDBOX: "maybe" })).toThrow(/LOOPY_SANDBOX/);
  });

  it("trusts no proxy unless LOOPY_TRUSTED_PROXIES names IP addresses or CIDRs", () => {
    expect(loadEnv({}).trustedProxies).toEqual([]);
    expect(loadEnv({ LOOPY_TRUSTED_PROXIES: " 127.0.0.1, 10.0.0.0/8,::1,fd00::/8 " }).trustedProxies).toEqual([
      "127.0.0.1",
      "10.0.0.0/8",
      "::1",
      "fd00::/8",
    ]);
    expect(() => loadEnv({ LOOPY_TRUSTED_PROXIES: "10.0.0.0/33,proxy.local,1.2.3.4/8/1" })).toThrow(
      "LOOPY_TRUSTED_PROXIES: not an IP address or CIDR: 10.0.0.0/33, proxy.local, 1.2.3.4/8/1",
    );
  });
});

describe("inheritedEnv", () => {
  it("takes only the named variables that are set", () => {
    const source = { PATH: "/usr/bin", HOME: "", DATABASE_URL: "postgres://secret" };
    expect(inheritedEnv(["PATH", "HOME", "USER"], source)).toEqual({ PATH: "/usr/bin", HOME: "" });
  });

  it("reads this process's environment by default", () => {
    expect(inheritedEnv(["PATH"])).toEqual(process.env.PATH === undefined ? {} : { PATH: process.env.PATH });
  });
});

import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadEnv, required } from "./env.ts";

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
});

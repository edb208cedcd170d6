import { describe, expect, it } from "vitest";
import { childEnv, NEVER_INHERITED } from "./child-env.ts";

const worker = {
  PATH: "/usr/bin:/bin",
  HOME: "/home/loopy",
  LANG: "C.UTF-8",
  DATABASE_URL: "postgres://loopy@db/loopy",
  REDIS_URL: "redis://cache:6379",
  LOOPY_MASTER_KEY: "a".repeat(64),
  LOOPY_TOKEN: "loopy_tok_abc",
  LOOPY_ADMIN_PASSWORD: "correct horse",
  OPENAI_API_KEY: "sk-worker-key",
  AWS_SECRET_ACCESS_KEY: "aws-secret",
};

describe("childEnv", () => {
  it("passes only the harmless variables of the worker, never its settings or keys", () => {
    expect(childEnv({}, undefined, worker)).toEqual({ PATH: "/usr/bin:/bin", HOME: "/home/loopy", LANG: "C.UTF-8" });
  });

  it("adds what the caller asked for: the run's variables and the agent's own secrets", () => {
    const env = childEnv({ LOOPY_RUN_ID: "r1", MY_KEY: "value-123" }, undefined, worker);
    expect(env).toMatchObject({ LOOPY_RUN_ID: "r1", MY_KEY: "value-123", PATH: "/usr/bin:/bin" });
    expect(env.OPENAI_API_KEY).toBeUndefined();
  });

  it("drops Loopy's own settings even when a caller passes them, in extra or base", () => {
    const leaky = {
      DATABASE_URL: "x",
      REDIS_URL: "x",
      LOOPY_MASTER_KEY: "x",
      LOOPY_TOKEN: "x",
      LOOPY_ADMIN_PASSWORD: "x",
    };
    const env = childEnv(leaky, { ...leaky, PATH: "/bin" }, worker);
    for (const name of NEVER_INHERITED) expect(env[name], name).toBeUndefined();
    expect(env).toEqual({ PATH: "/bin" });
  });
});

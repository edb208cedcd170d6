import { describe, expect, it } from "vitest";
import { SignInLimiter } from "./sign-in-limiter.ts";

describe("SignInLimiter", () => {
  it("lets the first failures through, then makes each next attempt wait longer, up to the cap", () => {
    let now = 0;
    const limiter = new SignInLimiter(3, 60_000, 8_000, () => now);
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterMs("a")).toBe(0);
      limiter.failed("a");
    }
    expect(limiter.retryAfterMs("a")).toBe(1000);
    now += 1000;
    limiter.failed("a");
    expect(limiter.retryAfterMs("a")).toBe(2000);
    for (let i = 0; i < 5; i++) limiter.failed("a");
    expect(limiter.retryAfterMs("a")).toBe(8000);
    // Another client is not slowed down; a success or the window's end clears it.
    expect(limiter.retryAfterMs("b")).toBe(0);
    limiter.succeeded("a");
    expect(limiter.retryAfterMs("a")).toBe(0);
    limiter.failed("a");
    now += 61_000;
    expect(limiter.retryAfterMs("a")).toBe(0);
  });
});

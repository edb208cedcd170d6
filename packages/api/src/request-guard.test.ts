import { describe, expect, it } from "vitest";
import { refuseForeignRequest } from "./request-guard.ts";

const req = (headers: Record<string, string>) => new Request("http://127.0.0.1:3000/api/trpc/x", { headers });

describe("refuseForeignRequest", () => {
  it("lets same-origin and header-less local requests through", () => {
    expect(refuseForeignRequest(req({ host: "127.0.0.1:3000" }), "127.0.0.1")).toBeNull();
    expect(
      refuseForeignRequest(req({ host: "localhost:3000", origin: "http://localhost:3000" }), "127.0.0.1"),
    ).toBeNull();
  });

  it("refuses a rebound host name and cross-site origins", () => {
    expect(refuseForeignRequest(req({ host: "evil.example:3000" }), "127.0.0.1")).toMatch(
      /refuses requests addressed to evil.example/,
    );
    expect(refuseForeignRequest(req({ host: "127.0.0.1:3000", origin: "http://evil.example" }), "127.0.0.1")).toMatch(
      /cross-origin/,
    );
    expect(refuseForeignRequest(req({ host: "127.0.0.1:3000", origin: "null" }), "127.0.0.1")).toMatch(/cross-origin/);
  });

  it("accepts any host name when Loopy listens on all interfaces", () => {
    expect(refuseForeignRequest(req({ host: "loopy.internal:3000" }), "0.0.0.0")).toBeNull();
  });
});

import { describe, expect, it } from "vitest";
import { formatBytes } from "./bytes.ts";

describe("formatBytes", () => {
  it("picks the largest unit that keeps the number at least 1", () => {
    expect(formatBytes(812)).toBe("812 bytes");
    expect(formatBytes(64 * 1024)).toBe("64.0 KB");
    expect(formatBytes(4 * 1024 * 1024)).toBe("4.0 MB");
    expect(formatBytes(1073741824 - 4 * 1024 * 1024)).toBe("1020.0 MB");
    expect(formatBytes(3 * 1024 ** 3)).toBe("3.0 GB");
  });
});

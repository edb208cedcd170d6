// The shared domain's public entry: what other packages import from @loopy/core/shared.
export * from "./diff.ts";
export * from "./errors.ts";
export * from "./git.ts";
export * from "./glob.ts";
export * from "./health.ts";
export * from "./ids.ts";
export * from "./ports.ts";

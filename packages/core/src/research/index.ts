// The research domain's public entry: what other packages import from @loopy/core/research.
export * from "./demo-project.ts";
export * from "./engine.ts";
export * from "./events.ts";
export * from "./files.ts";
export * from "./loops.ts";
export * from "./measure.ts";
export * from "./metrics-endpoint.ts";
export * from "./ports.ts";
export * from "./proposers.ts";
export * from "./slots.ts";
export * from "./worktree.ts";

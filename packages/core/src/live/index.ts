// The live domain's public entry: what other packages import from @loopy/core/live.
export * from "./activity.ts";
export * from "./overview.ts";
export * from "./run-events.ts";

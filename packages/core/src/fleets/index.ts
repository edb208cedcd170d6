// The fleets domain's public entry: what other packages import from @loopy/core/fleets.
export * from "./dag.ts";
export * from "./dispatch.ts";
export * from "./fleets.ts";
export * from "./planner.ts";
export * from "./rank.ts";
export * from "./research-fleets.ts";
export * from "./teardown.ts";

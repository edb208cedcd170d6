// The projects domain's public entry: what other packages import from @loopy/core/projects.
export * from "./confinement.ts";
export * from "./memory.ts";
export * from "./profiles.ts";
export * from "./projects.ts";
export * from "./routing.ts";
export * from "./workspace.ts";

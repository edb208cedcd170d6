// The runs domain's public entry: what other packages import from @loopy/core/runs.
export * from "./run-processes.ts";
export * from "./run-recovery.ts";
export * from "./run-status.ts";
export * from "./run-times.ts";
export * from "./run-title.ts";
export * from "./runs.ts";
export * from "./turn/checkpoints.ts";
export * from "./turn/decide-turn.ts";
export * from "./turn/execute-run.ts";

// The review domain's public entry: what other packages import from @loopy/core/review.
export * from "./merge-message.ts";
export * from "./review.ts";

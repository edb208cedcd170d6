// The access domain's public entry: what other packages import from @loopy/core/access.
export * from "./accounts.ts";
export * from "./audit.ts";
export * from "./own-account.ts";
export * from "./roles.ts";
export * from "./secrets-hash.ts";

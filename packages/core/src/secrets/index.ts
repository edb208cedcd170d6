// The secrets domain's public entry: what other packages import from @loopy/core/secrets.
export * from "./crypto.ts";
export * from "./inject.ts";
export * from "./master-key.ts";
export * from "./names.ts";
export * from "./redact-forms.ts";
export * from "./redact.ts";
export * from "./store.ts";

#!/usr/bin/env node
// The CLI is TypeScript; tsx compiles it on the fly (Node 20 cannot strip types).
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");

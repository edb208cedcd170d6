#!/usr/bin/env node
// Starts the fake model server (for demos and e2e): loopy-fake-models [--port N]
import { register } from "tsx/esm/api";

register();
const { startFakeModelServer } = await import("../src/server.ts");
const i = process.argv.indexOf("--port");
const server = await startFakeModelServer({ port: i > 0 ? Number(process.argv[i + 1]) : undefined });
console.log(`fake model server on ${server.url}`);

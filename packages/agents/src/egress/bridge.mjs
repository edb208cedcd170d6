// The sandbox's side of the egress (see egress.ts): inside a network namespace of its own, where
// only loopback exists, it listens on 127.0.0.1:<port> for each entry and pipes every connection
// to the Unix socket the worker opened (bind-mounted in), then runs the command behind it.
//
//   node bridge.mjs '[{"port":18080,"socket":"/run/loopy/egress/proxy.sock"}]' -- <command> [args...]
//
// Plain JavaScript with node: builtins only: it runs with `node` from a read-only root, where
// neither TypeScript nor Loopy's dependencies can be loaded.
//
// Exit status: the command's own; 128+n (or the same signal, re-raised) when a signal ended it;
// 125 when the bridge itself cannot start (bad arguments, a port taken), without running the command;
// 126/127 when the command cannot be executed / is not found, as a shell says.
import { spawn } from "node:child_process";
import net from "node:net";
import { constants } from "node:os";

const FORWARDED_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"];

function fail(message, code = 125) {
  process.stderr.write(`loopy egress bridge: ${message}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const [json, separator, ...command] = argv;
  if (separator !== "--" || command.length === 0) fail("usage: bridge.mjs '<json>' -- <command> [args...]");
  let entries;
  try {
    entries = JSON.parse(json);
  } catch (error) {
    fail(`bad listener list: ${error.message}`);
  }
  if (!Array.isArray(entries)) fail("bad listener list: an array of {port, socket} expected");
  for (const e of entries) {
    if (
      !e ||
      !Number.isInteger(e.port) ||
      e.port < 1 ||
      e.port > 65535 ||
      typeof e.socket !== "string" ||
      e.socket === ""
    ) {
      fail(`bad listener ${JSON.stringify(e)}: {port: 1-65535, socket: path} expected`);
    }
  }
  return { entries, command };
}

// Both ways, half-close passing through (a client that shuts down its sending side still gets its
// answer); when either side is gone for good, so is the other. A worker that went away only cuts
// the connection, never the bridge.
function splice(a, b) {
  a.pipe(b);
  b.pipe(a);
  const destroyBoth = () => {
    a.destroy();
    b.destroy();
  };
  a.on("error", destroyBoth).on("close", destroyBoth);
  b.on("error", destroyBoth).on("close", destroyBoth);
}

function listen({ port, socket }) {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ allowHalfOpen: true }, (client) => {
      splice(client, net.connect({ path: socket, allowHalfOpen: true }));
    });
    server.once("error", (error) =>
      reject(new Error(`cannot listen on 127.0.0.1:${port} (for ${socket}): ${error.code ?? error.message}`)),
    );
    server.listen(port, "127.0.0.1", () => {
      server.removeAllListeners("error");
      server.on("error", () => {});
      resolve(server);
    });
  });
}

function run(command) {
  const child = spawn(command[0], command.slice(1), { stdio: "inherit" });
  const handlers = new Map();
  for (const signal of FORWARDED_SIGNALS) {
    const handler = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
  child.on("error", (error) => {
    fail(`cannot run ${command[0]}: ${error.code ?? error.message}`, error.code === "ENOENT" ? 127 : 126);
  });
  child.on("exit", (code, signal) => {
    if (signal === null) process.exit(code ?? 1);
    // Die of the same signal, so whoever waits for the bridge sees what the command saw.
    for (const [s, handler] of handlers) process.off(s, handler);
    try {
      process.kill(process.pid, signal);
    } catch {
      // An unknown signal name: fall through to the shell's convention.
    }
    setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 100);
  });
}

const { entries, command } = parseArgs(process.argv.slice(2));
// A stray error in a connection must never take the command's network down with it.
process.on("uncaughtException", (error) => process.stderr.write(`loopy egress bridge: ${error.stack ?? error}\n`));
try {
  await Promise.all(entries.map(listen));
} catch (error) {
  fail(error.message);
}
run(command);

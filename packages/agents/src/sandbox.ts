import { execFile } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { homedir } from "node:os";
import { childEnv } from "./child-env.ts";
import { BRIDGE_PATH, bridgeArgv, openEgress, type EgressGateway } from "./egress/egress.ts";
import { findExecutable } from "./executables.ts";

const exec = promisify(execFile);

/**
 * How a child process is confined. With `mode` "auto" it runs inside
 * bubblewrap when `bwrap` is installed and works here, else without (one log
 * line says why); "on" refuses to run it unconfined; "off" never confines.
 */
export interface SandboxPolicy {
  mode: "auto" | "on" | "off";
  /** Folders it may write besides its working folder (the agent's state folder, its HOME). */
  writable?: string[];
  /** Folders replaced by an empty one (LOOPY_HOME: the master key, the CLI token, other runs' worktrees). */
  hide?: string[];
  /**
   * Folders visible read-only even under a hidden or private folder: the
   * project's git objects, which the workspace's `.git` borrows. Given by
   * Loopy, never read from the workspace (the agent could point it anywhere).
   */
  readOnly?: string[];
  /** Device files passed through (a research experiment's GPUs: /dev/nvidia*, /dev/dri). */
  devices?: string[];
  /**
   * What it may reach over the network. A confined process always has a
   * network namespace of its own (only its own loopback): Loopy's database,
   * Redis and web ports, and every other service of the machine, are out of
   * reach. With `network`, an egress proxy that the worker runs for this one
   * process lets it reach the allowed hosts (HTTP CONNECT and plain HTTP,
   * `HTTPS_PROXY`/`HTTP_PROXY` inside), the model gateways (the agent's base
   * URL; the gateway adds the API key, which the agent never holds) and
   * Loopy's own forwards (a research experiment's metrics endpoint).
   */
  network?: SandboxNetwork;
}

export interface SandboxNetwork {
  /** A folder of Loopy's (under LOOPY_HOME) where each process's socket folder is made. */
  socketRoot: string;
  /** Hosts the proxy may reach: "example.com", "example.com:8443", "*.example.com", "127.0.0.1:9000". */
  allowHosts?: string[];
  /** host:port pairs always refused (Loopy's database, Redis, web). */
  denyHosts?: string[];
  /** Model endpoints, each served inside on 127.0.0.1:`port`. */
  gateways?: Array<EgressGateway & { port: number }>;
  /** Loopy's own endpoints, each served inside on 127.0.0.1:`port` and piped to host:targetPort. */
  forwards?: Array<{ name: string; host: string; targetPort: number; port: number }>;
  /** Called for every refused connection (the run's log says what the process tried). */
  onDenied?: (target: string, reason: string) => void;
}

/** Inside the sandbox: where the egress proxy listens (HTTP_PROXY), and where the socket folder is mounted. */
const EGRESS_PROXY_PORT = 3128;
const EGRESS_MOUNT = "/run/loopy-egress";

export type SandboxStatus = { ok: true; bwrap: string; flags: string[] } | { ok: false; reason: string };

/** Every sandbox starts with these; the probe runs them too, so "works here" means exactly this. */
const BASE = [
  "--die-with-parent",
  "--unshare-pid",
  "--unshare-net",
  "--unshare-ipc",
  "--cap-drop",
  "ALL",
  "--ro-bind",
  "/",
  "/",
  "--dev",
  "/dev",
  "--proc",
  "/proc",
  "--tmpfs",
  "/tmp",
  // Unix sockets of the machine's services (PostgreSQL, Redis, Docker, D-Bus, the user's agents) live here.
  "--tmpfs",
  "/run",
];

/**
 * A user namespace of its own in which no further one can be made (bubblewrap 0.8+): the kernel's
 * user-namespace code, a common way up, stays out of reach. Used when this bubblewrap has it.
 */
const NO_NESTED_USERNS = ["--unshare-user", "--disable-userns"];

/** Files only root may read that a sandbox running as root would otherwise still read (capabilities dropped, it owns them). */
const ROOT_ONLY_FILES = [
  "/etc/shadow",
  "/etc/gshadow",
  "/etc/shadow-",
  "/etc/gshadow-",
  "/etc/ssh/ssh_host_rsa_key",
  "/etc/ssh/ssh_host_ecdsa_key",
  "/etc/ssh/ssh_host_ed25519_key",
];

let status: Promise<SandboxStatus> | undefined;

/**
 * Whether bubblewrap can run here, probed once per process: it may be missing,
 * or fail in a container without user namespaces.
 */
export function sandboxStatus(): Promise<SandboxStatus> {
  status ??= (async (): Promise<SandboxStatus> => {
    const bwrap = await findExecutable("bwrap");
    if (!bwrap) return { ok: false, reason: "bubblewrap is not installed (apt-get install bubblewrap)" };
    const env = childEnv() as NodeJS.ProcessEnv;
    try {
      await exec(bwrap, [...BASE, ...NO_NESTED_USERNS, "--", "true"], { timeout: 10_000, env });
      return { ok: true, bwrap, flags: NO_NESTED_USERNS };
    } catch {
      // An older bubblewrap, or user namespaces it may not make: the rest still confines.
    }
    try {
      await exec(bwrap, [...BASE, "--", "true"], { timeout: 10_000, env });
      return { ok: true, bwrap, flags: [] };
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? "")
        .trim()
        .split("\n")[0];
      return {
        ok: false,
        reason: `bubblewrap does not work here (${stderr || (error as Error).message}); user namespaces may be disabled`,
      };
    }
  })();
  return status;
}

/** One line for the worker's log at start: whether agents run sandboxed, and why not. Throws for "on" without a working bubblewrap. */
export async function describeSandbox(mode: SandboxPolicy["mode"]): Promise<string> {
  if (mode === "off") return "sandbox: off (LOOPY_SANDBOX=off): agents and checkpoints run unconfined";
  const found = await sandboxStatus();
  if (found.ok)
    return `sandbox: bubblewrap (${found.bwrap}): agents and command checkpoints cannot write outside their worktree`;
  if (mode === "on") throw new Error(`LOOPY_SANDBOX is on, but ${found.reason}`);
  return `sandbox: none: ${found.reason}; agents and checkpoints run unconfined (LOOPY_SANDBOX=off silences this)`;
}

/** A process ready to spawn: its argv (wrapped), extra environment, and what to undo once it ended. */
export interface Confined {
  argv: [string, ...string[]];
  env: Record<string, string>;
  /** Whether bubblewrap confines it. */
  sandboxed: boolean;
  close(): Promise<void>;
}

/**
 * `argv` wrapped in bubblewrap according to `policy`, or `argv` itself when
 * the policy is off, or auto and bubblewrap cannot run.
 *
 * Inside: the whole filesystem read-only, a private /tmp and /run, /dev and
 * /proc of its own (its own process namespace: it cannot see, signal or read
 * the environment of the worker), its own network namespace (see
 * `SandboxPolicy.network`), no capabilities, LOOPY_HOME and the worker's home
 * folder hidden (keys, tokens, credentials of other tools). Writable: the
 * working folder and the `writable` folders. A workspace's `.git` is the
 * agent's own (see core's workspace.ts); the project's objects it borrows are
 * mounted read-only.
 */
export async function confine(
  policy: SandboxPolicy | undefined,
  cwd: string,
  argv: [string, ...string[]],
): Promise<Confined> {
  const none: Confined = { argv, env: {}, sandboxed: false, close: async () => undefined };
  if (!policy || policy.mode === "off") return none;
  const found = await sandboxStatus();
  if (!found.ok) {
    if (policy.mode === "on") throw new Error(`LOOPY_SANDBOX is on, but ${found.reason}`);
    // "auto": the worker said once at start why it runs without (see `describeSandbox`).
    return none;
  }
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : path.resolve(p));
  const dir = real(cwd);
  const args = [...BASE, ...found.flags];
  // Running as root (a container, CI), the process still owns root's files: hide the secret ones.
  if (process.getuid?.() === 0)
    for (const file of ROOT_ONLY_FILES) if (existsSync(file)) args.push("--ro-bind", "/dev/null", file);
  const covered = ["/tmp", "/run"];
  const home = homedir();
  for (const hidden of [...(policy.hide ?? []), ...(home && home !== "/" ? [home] : [])]) {
    if (!existsSync(hidden)) continue;
    const p = real(hidden);
    if (dir === p || p.startsWith(`${dir}/`)) continue; // never hide the working folder itself
    args.push("--tmpfs", p);
    covered.push(p);
  }
  // Programs stay reachable when installed under a private or hidden folder (a checkout of Loopy in /tmp,
  // node under the home folder): their package tree, read-only.
  const network = policy.network;
  const programs = [argv[0], ...(network ? [process.execPath, BRIDGE_PATH] : [])];
  for (const tree of new Set(programs.map((p) => programTree(p, covered, real)).filter((t): t is string => t !== null)))
    args.push("--ro-bind", tree, tree);
  args.push("--bind", dir, dir);
  for (const p of policy.readOnly ?? []) if (existsSync(p)) args.push("--ro-bind", real(p), real(p));
  for (const d of policy.devices ?? []) if (existsSync(d)) args.push("--dev-bind", d, d);
  for (const w of policy.writable ?? []) {
    await mkdir(w, { recursive: true });
    const p = real(w);
    args.push("--bind", p, p);
  }
  const env: Record<string, string> = {};
  let wrapped: [string, ...string[]] = argv;
  let close = async (): Promise<void> => {};
  if (network) {
    await mkdir(network.socketRoot, { recursive: true, mode: 0o700 });
    const socketDir = path.join(network.socketRoot, randomBytes(6).toString("hex"));
    const gateways = network.gateways ?? [];
    const forwards = network.forwards ?? [];
    const egress = await openEgress({
      dir: socketDir,
      allowHosts: network.allowHosts ?? [],
      denyHosts: network.denyHosts,
      gateways,
      forwards: forwards.map((f) => ({ name: f.name, host: f.host, port: f.targetPort })),
      onDenied: network.onDenied,
    });
    const inside = (socket: string) => path.posix.join(EGRESS_MOUNT, path.relative(socketDir, socket));
    const entries = [
      { port: EGRESS_PROXY_PORT, socket: inside(egress.proxySocket) },
      ...gateways.map((g, i) => ({ port: g.port, socket: inside(egress.gatewaySockets[i]!) })),
      ...forwards.map((f, i) => ({ port: f.port, socket: inside(egress.forwardSockets[i]!) })),
    ];
    // Read-only: connecting to a socket needs no write access, and the process cannot leave files there.
    args.push("--ro-bind", socketDir, EGRESS_MOUNT);
    wrapped = bridgeArgv(entries, argv) as [string, ...string[]];
    const proxy = `http://127.0.0.1:${EGRESS_PROXY_PORT}`;
    Object.assign(env, {
      HTTP_PROXY: proxy,
      HTTPS_PROXY: proxy,
      http_proxy: proxy,
      https_proxy: proxy,
      NO_PROXY: "127.0.0.1,localhost,::1",
      no_proxy: "127.0.0.1,localhost,::1",
    });
    close = async () => {
      await egress.close();
      await rm(socketDir, { recursive: true, force: true });
    };
  }
  args.push("--setenv", "TMPDIR", "/tmp", "--chdir", dir, "--");
  return { argv: [found.bwrap, ...args, ...wrapped], env, sandboxed: true, close };
}

/**
 * When `program` (an absolute path) lies in one of the `covered` folders: the
 * folder to make visible for it, its nearest `node_modules` (an npm-installed
 * CLI needs its dependencies next to it) or else its own folder. Null when it
 * is visible anyway.
 */
function programTree(program: string, covered: string[], real: (p: string) => string): string | null {
  if (!path.isAbsolute(program)) return null;
  const resolved = real(program);
  if (!covered.some((c) => resolved === c || resolved.startsWith(`${c}/`))) return null;
  const parts = resolved.split("/");
  const modules = parts.lastIndexOf("node_modules");
  return modules > 0 ? parts.slice(0, modules + 1).join("/") : path.dirname(resolved);
}

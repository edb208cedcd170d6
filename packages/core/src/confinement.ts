import { readdirSync } from "node:fs";
import path from "node:path";
import type { AgentAdapter, AgentRunInput } from "@loopy/agents/adapter";
import { sandboxStatus, type SandboxNetwork, type SandboxPolicy } from "@loopy/agents/sandbox";
import { randomBytes } from "node:crypto";
import { profileSecretNames } from "@loopy/agents/adapter";
import { projectGitDir } from "./workspace.ts";

/** The worker's egress settings: LOOPY_EGRESS_ALLOW, and Loopy's own services, never reachable. */
export interface EgressSettings {
  allowHosts: string[];
  denyHosts: string[];
}

export interface ConfinementDeps {
  loopyHome: string;
  sandbox?: SandboxPolicy["mode"];
  egress?: EgressSettings;
}

/** Inside a sandbox: the port of the model gateway (the agent's base URL). Its own network namespace, so any fixed port is free. */
const GATEWAY_PORT = 47100;

/**
 * The sandbox for a process that works in a project's workspace (an agent, a
 * checkpoint, an experiment): LOOPY_HOME hidden, the workspace and `writable`
 * writable, the project's git objects readable (the workspace's `.git`
 * borrows them), its own network namespace with the egress proxy allowing the
 * worker's allowed hosts and `allowHosts`, never Loopy's own services.
 */
export async function workspaceSandbox(
  deps: ConfinementDeps,
  options: {
    repo: string;
    writable?: string[];
    allowHosts?: string[];
    forwards?: SandboxNetwork["forwards"];
    onDenied?: SandboxNetwork["onDenied"];
    /** "gpu": the machine's GPU devices (/dev/nvidia*, /dev/dri) stay reachable, for experiments. */
    devices?: "gpu";
  },
): Promise<SandboxPolicy> {
  const objects = path.join(await projectGitDir(options.repo), "objects");
  return {
    mode: deps.sandbox ?? "off",
    hide: [deps.loopyHome],
    writable: options.writable ?? [],
    readOnly: [objects],
    ...(options.devices === "gpu" ? { devices: gpuDevices() } : {}),
    network: {
      socketRoot: path.join(deps.loopyHome, "egress"),
      allowHosts: [...(deps.egress?.allowHosts ?? []), ...(options.allowHosts ?? [])],
      denyHosts: deps.egress?.denyHosts ?? [],
      forwards: options.forwards,
      onDenied: options.onDenied,
    },
  };
}

/** Whether processes under `policy` really run in bubblewrap (on, or auto with a working bubblewrap). */
export async function confines(policy: SandboxPolicy | undefined): Promise<boolean> {
  if (!policy || policy.mode === "off") return false;
  return (await sandboxStatus()).ok;
}

/**
 * An agent's turn input with its model access routed through the egress
 * gateway, when the sandbox confines it and its adapter calls the model from
 * its own process: the base URL becomes the gateway inside the sandbox, the
 * API key (the profile's first secret) a placeholder that the gateway swaps
 * for the real value on the way out. The agent, its tools and anything it
 * runs never hold the key. The endpoint's host is also allowed through the
 * proxy. Loopy's own agent calls the model from the worker and is left as is.
 */
export async function withModelGateway(adapter: AgentAdapter, input: AgentRunInput): Promise<AgentRunInput> {
  const network = input.sandbox?.network;
  if (!network || adapter.modelEndpoint === undefined || !(await confines(input.sandbox))) return input;
  const profile = input.profile ?? {};
  const upstream = profile.baseUrl ?? adapter.modelEndpoint.defaultUrl;
  if (!upstream) return input;
  let url: URL;
  try {
    url = new URL(upstream);
  } catch {
    return input; // the adapter reports a bad base URL itself
  }
  const env = { ...input.env };
  const keyName = profileSecretNames(profile).find((name) => env[name]);
  let gateway: NonNullable<SandboxNetwork["gateways"]>[number] = { upstream, port: GATEWAY_PORT };
  if (keyName) {
    const placeholder = `loopy-placeholder-${keyName.toLowerCase().replace(/[^a-z0-9]/g, "")}-${randomBytes(8).toString("hex")}`;
    gateway = { ...gateway, placeholder, secret: env[keyName]! };
    env[keyName] = placeholder;
  }
  const insidePath = url.pathname === "/" ? "" : url.pathname.replace(/\/$/, "");
  return {
    ...input,
    env,
    profile: { ...profile, baseUrl: `http://127.0.0.1:${GATEWAY_PORT}${insidePath}` },
    sandbox: { ...input.sandbox!, network: { ...network, gateways: [...(network.gateways ?? []), gateway], allowHosts: [...(network.allowHosts ?? []), url.host] } },
  };
}

/** The GPU device files of this machine (NVIDIA's and DRM's), for an experiment's sandbox. */
function gpuDevices(): string[] {
  const found: string[] = [];
  for (const name of readdirSafe("/dev")) if (/^nvidia/.test(name)) found.push(`/dev/${name}`);
  if (readdirSafe("/dev/dri").length) found.push("/dev/dri");
  return found;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

import { readdirSync } from "node:fs";
import path from "node:path";
import type { SandboxNetwork, SandboxPolicy } from "@loopy/agents/sandbox";
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

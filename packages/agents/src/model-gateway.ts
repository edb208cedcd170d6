import { randomBytes } from "node:crypto";
import { profileSecretNames, type AgentAdapter, type AgentRunInput } from "./adapter.ts";
import { gatewayBaseUrl } from "./egress/egress.ts";
import { sandboxStatus, type SandboxNetwork, type SandboxPolicy } from "./sandbox.ts";

/** Inside a sandbox: the port of the model gateway (the agent's base URL). Its own network namespace, so any fixed port is free. */
const GATEWAY_PORT = 47100;

/** Whether processes under `policy` really run in bubblewrap (on, or auto with a working bubblewrap). */
async function confines(policy: SandboxPolicy | undefined): Promise<boolean> {
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
  const named = profileSecretNames(profile).filter((name) => env[name]);
  const keyName = adapter.modelEndpoint.keyName ? adapter.modelEndpoint.keyName(named) : named[0];
  let gateway: NonNullable<SandboxNetwork["gateways"]>[number] = { upstream, port: GATEWAY_PORT };
  if (keyName) {
    const placeholder = `loopy-placeholder-${keyName.toLowerCase().replace(/[^a-z0-9]/g, "")}-${randomBytes(8).toString("hex")}`;
    gateway = { ...gateway, placeholder, secret: env[keyName]! };
    env[keyName] = placeholder;
  }
  return {
    ...input,
    env,
    profile: { ...profile, baseUrl: gatewayBaseUrl(GATEWAY_PORT, upstream) },
    sandbox: {
      ...input.sandbox!,
      network: {
        ...network,
        gateways: [...(network.gateways ?? []), gateway],
        allowHosts: [...(network.allowHosts ?? []), url.host],
      },
    },
  };
}

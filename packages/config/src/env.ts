import { isIP } from "node:net";
import { homedir } from "node:os";
import path from "node:path";
import { z } from "zod";

/**
 * Every environment variable Loopy reads, validated once. Nothing else in the
 * code base reads process.env: configuration comes from `loadEnv`, what child
 * processes inherit from `inheritedEnv`.
 */
const schema = z.object({
  DATABASE_URL: z.string().url().optional(),
  REDIS_URL: z.string().url().optional(),
  /** Prefix for every Redis key (queues, channels). Lets tests and several installs share one Redis. */
  LOOPY_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]+$/)
    .default("loopy"),
  LOOPY_HOME: z.string().default(".loopy"),
  LOOPY_URL: z.string().url().default("http://127.0.0.1:3000"),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  HOST: z.string().default("127.0.0.1"),
  /** How many runs one worker process executes at once. */
  LOOPY_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(4),
  /** The global limit of running runs: fleet members beyond it wait in the queue (each fleet also has its own limit). */
  LOOPY_MAX_RUNNING: z.coerce.number().int().min(1).max(100_000).default(16),
  /** The admin's password, set on start (required before Loopy listens on a non-loopback HOST). */
  LOOPY_ADMIN_PASSWORD: z.string().min(10, "must have at least 10 characters").max(1024).optional(),
  /** POSTed a JSON payload when a run awaits review or needs attention, or a fleet ends (Slack-compatible `text`). */
  LOOPY_WEBHOOK_URL: z.string().url().optional(),
  /** An API token for the CLI; else the CLI reads $LOOPY_HOME/token. */
  LOOPY_TOKEN: z.string().max(200).optional(),
  /** How many research loops one worker process runs at once (each runs one experiment at a time). */
  LOOPY_RESEARCH_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(4),
  /** How long a research loop stays held by a worker that stopped renewing it, before another worker resumes it. */
  LOOPY_RESEARCH_LEASE: z.string().default("30s"),
  /** How long a run stays held by a worker that stopped renewing it (killed, frozen) before another worker takes it up; also its BullMQ lock. */
  LOOPY_RUN_LEASE: z.string().default("30s"),
  /** On SIGTERM the worker stops taking jobs and lets runs in progress finish this long; the rest are handed over to the next worker. */
  LOOPY_SHUTDOWN_GRACE: z.string().default("30s"),
  /** Default run timeout when a launch names none. */
  LOOPY_DEFAULT_TIMEOUT: z.string().default("10m"),
  /**
   * The key that encrypts stored secrets: 32 bytes as base64 (`openssl rand -base64 32`) or hex
   * (`openssl rand -hex 32`). Without it Loopy uses $LOOPY_HOME/master.key, created (mode 0600) on first use.
   */
  LOOPY_MASTER_KEY: z
    .string()
    .refine(
      (v) => masterKeyBytes(v) !== null,
      "must be 32 bytes as base64 (openssl rand -base64 32) or hex (openssl rand -hex 32)",
    )
    .optional(),
  /**
   * Agents and command checkpoints run inside bubblewrap (bwrap) when it is installed and works:
   * "auto" (default) falls back to no sandbox with one log line saying why, "on" fails them instead, "off" never sandboxes.
   */
  LOOPY_SANDBOX: z.enum(["auto", "on", "off"]).default("auto"),
  /**
   * Hosts sandboxed agents, checkpoints and experiments may reach through the egress proxy (comma-separated:
   * "registry.npmjs.org", "*.github.com", "10.0.0.5:8080"), besides each agent's model endpoint. Nothing else.
   */
  LOOPY_EGRESS_ALLOW: z.string().default(""),
  /** Extra folders (separated by ":") searched for agent CLIs before PATH. */
  LOOPY_AGENT_BIN_DIRS: z.string().default(""),
  /**
   * The reverse proxies in front of the web (comma-separated IP addresses or CIDRs: "127.0.0.1,10.0.0.0/8").
   * X-Forwarded-For and -Proto are believed only from a peer named here; from anyone else the client is
   * the connection's own address (what the sign-in limiter counts by).
   */
  LOOPY_TRUSTED_PROXIES: z
    .string()
    .default("")
    .superRefine((value, ctx) => {
      const bad = splitList(value).filter((entry) => !isAddressOrCidr(entry));
      if (bad.length) ctx.addIssue({ code: "custom", message: `not an IP address or CIDR: ${bad.join(", ")}` });
    }),
});

const splitList = (value: string) =>
  value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** "10.0.0.1", "::1", "10.0.0.0/8", "fd00::/8". */
function isAddressOrCidr(entry: string): boolean {
  const [address = "", bits, ...rest] = entry.split("/");
  const family = isIP(address);
  if (!family || rest.length) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** The 32 bytes of a master key written as hex or base64, or null when it is neither. */
export function masterKeyBytes(text: string): Buffer | null {
  const value = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, "hex");
  if (/^[A-Za-z0-9+/]{43}=?$/.test(value) || /^[A-Za-z0-9_-]{43}$/.test(value)) {
    const bytes = Buffer.from(value, value.includes("-") || value.includes("_") ? "base64url" : "base64");
    return bytes.length === 32 ? bytes : null;
  }
  return null;
}

export type LoopyEnv = z.infer<typeof schema> & {
  LOOPY_HOME: string;
  agentBinDirs: string[];
  trustedProxies: string[];
};

/** Reads and validates the environment. Throws one readable error listing every bad variable. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): LoopyEnv {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`Invalid Loopy configuration: ${problems}`);
  }
  const home = parsed.data.LOOPY_HOME.startsWith("~")
    ? path.join(homedir(), parsed.data.LOOPY_HOME.slice(1))
    : parsed.data.LOOPY_HOME;
  return {
    ...parsed.data,
    LOOPY_HOME: path.resolve(home),
    agentBinDirs: parsed.data.LOOPY_AGENT_BIN_DIRS.split(path.delimiter)
      .filter(Boolean)
      .map((d) => path.resolve(d)),
    trustedProxies: splitList(parsed.data.LOOPY_TRUSTED_PROXIES),
  };
}

/**
 * The variables named in `names` that are set in this process's environment, and nothing else: what a child
 * process (an agent, git, a checkpoint) inherits from Loopy, or a profile's API key taken from the worker's own
 * environment. Unset variables are left out; empty ones are kept.
 */
export function inheritedEnv(names: Iterable<string>, source: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of names) {
    const value = source[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** Requires a variable that the launcher normally provides (e.g. DATABASE_URL for web and worker). */
export function required<K extends keyof LoopyEnv>(env: LoopyEnv, key: K): NonNullable<LoopyEnv[K]> {
  const value = env[key];
  if (value === undefined || value === null || value === "") {
    throw new Error(`${String(key)} is not set. Start Loopy with "npm start", which provides it, or set it yourself.`);
  }
  return value as NonNullable<LoopyEnv[K]>;
}

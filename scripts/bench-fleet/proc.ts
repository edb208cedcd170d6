/** /proc sampling: CPU (ticks) and memory of the processes involved. */
import { readFileSync, readdirSync } from "node:fs";

const TICK_MS = 10; // CLK_TCK = 100 on Linux
interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  ticks: number;
}
export function processes(): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      out.push({ pid: Number(entry), ppid: Number(fields[1]), comm, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}
function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}
export function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
function machineTicks(): { busy: number; total: number } {
  const cpu = (readFileSync("/proc/stat", "utf8").split("\n")[0] as string).trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  return { busy: total - idle, total };
}
/** CPU ticks per group of processes: the worker, its agents, our database's Postgres backends, all Postgres, Redis, this process. */
export function cpuSnapshot(workerPid: number, dbName: string) {
  const groups = { worker: 0, agents: 0, postgresOurDb: 0, postgresAll: 0, redis: 0, bench: 0 };
  for (const p of processes()) {
    if (p.pid === workerPid) groups.worker += p.ticks;
    else if (p.ppid === workerPid && p.comm === "bash") groups.agents += p.ticks;
    else if (p.pid === process.pid) groups.bench += p.ticks;
    else if (p.comm === "postgres") {
      groups.postgresAll += p.ticks;
      if (cmdline(p.pid).includes(` ${dbName} `)) groups.postgresOurDb += p.ticks;
    } else if (p.comm === "redis-server") groups.redis += p.ticks;
  }
  return { at: Date.now(), groups, machine: machineTicks() };
}
export type CpuSnapshot = ReturnType<typeof cpuSnapshot>;
/** Percent of one core per group between two snapshots (postgresOurDb: backends that lived through both). */
export function cpuPercent(a: CpuSnapshot, b: CpuSnapshot) {
  const ms = b.at - a.at;
  const pct = Object.fromEntries(
    Object.entries(b.groups).map(([k, v]) => [
      k,
      Math.round((((v - a.groups[k as keyof typeof a.groups]) * TICK_MS) / ms) * 100),
    ]),
  );
  const machineBusy = Math.round(((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)) * 100);
  return { ...pct, machineBusyPercentOfAllCores: machineBusy };
}

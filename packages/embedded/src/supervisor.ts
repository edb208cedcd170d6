import type { ChildProcess } from "node:child_process";
import { stopChild } from "./processes.ts";

export interface SuperviseOptions {
  /** For the log: "worker", "web". */
  name: string;
  /** Starts the child (again). */
  start: () => ChildProcess;
  /** Called with every child started, e.g. to write its pid file. */
  onStart?: (child: ChildProcess) => void;
  /** Restarts wait this long first, doubling each time up to `maxDelayMs`. Default 1 s. */
  initialDelayMs?: number;
  /** Default 30 s. */
  maxDelayMs?: number;
  /** A child that stayed up this long was healthy: the delay and the crash count start over. Default 60 s. */
  healthyAfterMs?: number;
  /** Crashes in a row, each before `healthyAfterMs`, after which it is not restarted any more. Default 5. */
  maxFastCrashes?: number;
  log: (message: string) => void;
  /** Called once when the supervisor stops restarting it. */
  onGiveUp?: (lastExit: string) => void;
}

export interface Supervised {
  /** The child running now, if any. */
  current(): ChildProcess | undefined;
  /** How many times it was restarted. */
  restarts(): number;
  /** Stops restarting it, then stops the child (SIGTERM, SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
  /** Stops restarting it, leaving the child alone (a Ctrl-C reaches every process of the terminal at once). */
  hold(): void;
}

/**
 * Keeps a child process running: when it exits without being asked to, it is
 * started again after a backoff (1 s, 2 s, 4 s … capped at 30 s; back to 1 s
 * once a child has stayed up for a minute). After `maxFastCrashes` crashes in
 * a row it gives up with a clear message instead of looping forever.
 */
export function supervise(options: SuperviseOptions): Supervised {
  const initial = options.initialDelayMs ?? 1_000;
  const max = options.maxDelayMs ?? 30_000;
  const healthyAfter = options.healthyAfterMs ?? 60_000;
  const maxFastCrashes = options.maxFastCrashes ?? 5;
  let child: ChildProcess | undefined;
  let stopping = false;
  let delay = initial;
  let fastCrashes = 0;
  let restarts = 0;
  let timer: NodeJS.Timeout | undefined;

  const launch = () => {
    timer = undefined;
    if (stopping) return;
    const startedAt = Date.now();
    const current = options.start();
    child = current;
    options.onStart?.(current);
    current.once("exit", (code, signal) => {
      if (child === current) child = undefined;
      if (stopping) return;
      const upMs = Date.now() - startedAt;
      const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
      if (upMs >= healthyAfter) {
        fastCrashes = 0;
        delay = initial;
      }
      fastCrashes++;
      if (fastCrashes > maxFastCrashes) {
        options.log(
          `${options.name} ${how} after ${seconds(upMs)}; it crashed ${fastCrashes} times in a row, each within ${seconds(healthyAfter)} of starting, so it is not restarted again`,
        );
        options.onGiveUp?.(how);
        return;
      }
      options.log(`${options.name} ${how} after ${seconds(upMs)}; restarting it in ${seconds(delay)}`);
      timer = setTimeout(() => {
        restarts++;
        launch();
      }, delay);
      delay = Math.min(delay * 2, max);
    });
  };
  launch();

  return {
    current: () => child,
    restarts: () => restarts,
    hold() {
      stopping = true;
      clearTimeout(timer);
    },
    async stop(graceMs = 10_000) {
      stopping = true;
      clearTimeout(timer);
      if (child) await stopChild(child, graceMs);
    },
  };
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1).replace(/\.0$/, "")} s` : `${Math.round(ms / 1000)} s`;
}

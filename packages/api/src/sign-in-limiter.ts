/**
 * Slows down password guessing: after `free` failed sign-ins from one client
 * within `windowMs`, each further attempt must wait, doubling up to `maxWaitMs`.
 * In memory, per web process: enough for one machine; a success resets it.
 */
export class SignInLimiter {
  private readonly failures = new Map<string, { count: number; first: number; last: number }>();
  constructor(
    private readonly free = 5,
    private readonly windowMs = 15 * 60_000,
    private readonly maxWaitMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  retryAfterMs(client: string): number {
    const f = this.failures.get(client);
    if (!f) return 0;
    if (this.now() - f.first > this.windowMs) {
      this.failures.delete(client);
      return 0;
    }
    if (f.count < this.free) return 0;
    const wait = Math.min(this.maxWaitMs, 1000 * 2 ** (f.count - this.free));
    return Math.max(0, f.last + wait - this.now());
  }

  failed(client: string) {
    const now = this.now();
    const f = this.failures.get(client);
    if (!f || now - f.first > this.windowMs) this.failures.set(client, { count: 1, first: now, last: now });
    else this.failures.set(client, { count: f.count + 1, first: f.first, last: now });
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value as string);
  }

  succeeded(client: string) {
    this.failures.delete(client);
  }
}

/**
 * A push-to-pull bridge: callbacks push, an async iterator pulls. Iteration ends
 * when the signal aborts (the client went away).
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private wake: (() => void) | undefined;

  constructor(private readonly signal?: AbortSignal) {
    signal?.addEventListener("abort", () => this.wake?.(), { once: true });
  }

  push(...items: T[]): void {
    this.items.push(...items);
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (!this.signal?.aborted) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

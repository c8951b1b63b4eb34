// Small helpers around AbortSignal shared by the providers: waiting that ends
// early on abort, and a retry delay that grows with each failure.

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** Exponential backoff with full jitter between `initialMs` and `maxMs`. */
export class Backoff {
  private failures = 0;
  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}
  /** The next delay: a random value in [d/2, d] where d doubles per consecutive failure. */
  next(): number {
    const d = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return d / 2 + (Math.random() * d) / 2;
  }
  reset(): void {
    this.failures = 0;
  }
}

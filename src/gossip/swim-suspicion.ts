// Lifeguard's suspicion timer: it starts at the maximum timeout and shrinks
// logarithmically toward the minimum as independent members confirm the
// suspicion (a member that several peers cannot reach is most likely down;
// one alone may be the slow one).
//   timeout(c) = max(min, max - (max - min) * log(c + 1) / log(k + 1))
// where c is the number of confirmations so far and k the number expected.

import type { Clock, TimerHandle } from './types.js';

export class Suspicion {
  private readonly confirmers = new Set<string>();
  private confirmations = 0;
  private timer: TimerHandle | undefined;
  private readonly started: number;

  constructor(
    private readonly clock: Clock,
    /** The member that raised the suspicion we hold first (not counted as a confirmation). */
    from: string,
    private readonly k: number,
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly onTimeout: () => void,
  ) {
    this.started = clock.now();
    this.confirmers.add(from);
    // With no confirmations to wait for, the minimum applies at once.
    const first = k < 1 ? minMs : maxMs;
    this.timer = clock.setTimeout(() => this.fire(), first);
  }

  /** The timeout after `c` confirmations. */
  static timeout(c: number, k: number, minMs: number, maxMs: number): number {
    if (k < 1) return minMs;
    const frac = Math.log(c + 1) / Math.log(k + 1);
    const t = Math.floor(maxMs - frac * (maxMs - minMs));
    return t < minMs ? minMs : t;
  }

  /** Records an independent confirmation; true if it was new (worth re-gossiping). */
  confirm(from: string): boolean {
    if (this.confirmations >= this.k || this.confirmers.has(from) || this.timer === undefined) return false;
    this.confirmers.add(from);
    this.confirmations++;
    const elapsed = this.clock.now() - this.started;
    const remaining = Suspicion.timeout(this.confirmations, this.k, this.minMs, this.maxMs) - elapsed;
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => this.fire(), remaining > 0 ? remaining : 0);
    return true;
  }

  cancel(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    if (this.timer === undefined) return;
    this.timer = undefined;
    this.onTimeout();
  }
}

/** memberlist's suspicion timeout floor, mult × max(1, log10(n)) × probe interval, and at least `floorMs`. */
export function suspicionMinTimeout(suspicionMult: number, n: number, probeIntervalMs: number, floorMs = 0): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.max(floorMs, Math.floor(suspicionMult * nodeScale * probeIntervalMs));
}

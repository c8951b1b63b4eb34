// Hybrid logical clock (Kulkarni et al.): timestamps that follow physical time
// but never go backwards and always order a write after every write this member
// has seen, so last-writer-wins respects causality across members whose clocks
// disagree a little. Ties are broken by the member id.

import type { Clock } from '../types.js';

export interface HlcTimestamp {
  /** Milliseconds (physical time, or the largest seen). */
  readonly wall: number;
  /** Orders events within one `wall` millisecond. */
  readonly counter: number;
  /** The writing member's id: the final tiebreak. */
  readonly node: string;
}

export function compareTimestamps(a: HlcTimestamp, b: HlcTimestamp): number {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  return 0;
}

export interface HlcOptions {
  /** Remote timestamps further than this ahead of our clock are merged but not adopted (default 60 s). */
  maxDriftMs?: number;
}

export const DEFAULT_MAX_DRIFT_MS = 60_000;

export class HybridLogicalClock {
  private wall = 0;
  private counter = 0;
  private readonly maxDriftMs: number;

  constructor(
    readonly node: string,
    private readonly clock: Pick<Clock, 'now'>,
    options: HlcOptions = {},
  ) {
    this.maxDriftMs = options.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS;
  }

  /** A timestamp for a local write, greater than every timestamp issued or observed so far. */
  now(): HlcTimestamp {
    const physical = Math.floor(this.clock.now());
    if (physical > this.wall) {
      this.wall = physical;
      this.counter = 0;
    } else {
      this.counter++;
    }
    return { wall: this.wall, counter: this.counter, node: this.node };
  }

  /** Take a received timestamp into account, so later local writes order after it. */
  observe(remote: HlcTimestamp): void {
    const physical = Math.floor(this.clock.now());
    if (remote.wall > physical + this.maxDriftMs) return; // a runaway clock must not drag us along
    if (remote.wall > this.wall) {
      this.wall = remote.wall;
      this.counter = remote.counter;
    } else if (remote.wall === this.wall && remote.counter > this.counter) {
      this.counter = remote.counter;
    }
  }
}

// The real Clock (Node timers, monotonic time) and a Random from the OS CSPRNG,
// for running Membership outside the simulator.

import { getRandomValues } from 'node:crypto';
import type { Clock, Random, TimerHandle } from './types.js';

interface RealTimer extends TimerHandle {
  readonly timeout: NodeJS.Timeout;
}

let nextTimerId = 1;

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timeout = setTimeout(fn, ms);
    // Gossip timers alone must not keep the process alive.
    timeout.unref();
    const h: RealTimer = { id: nextTimerId++, timeout };
    return h;
  },
  clearTimeout(handle: TimerHandle): void {
    clearTimeout((handle as RealTimer).timeout);
  },
};

/** Uniform randomness from the OS CSPRNG, drawn in blocks to keep it cheap. */
export class CryptoRandom implements Random {
  private readonly buf = new Uint32Array(256);
  private i = 256;

  private next(): number {
    if (this.i >= this.buf.length) {
      getRandomValues(this.buf);
      this.i = 0;
    }
    return this.buf[this.i++];
  }

  float(): number {
    return this.next() / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.float() * n);
  }
}

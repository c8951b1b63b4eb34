// What the proxy remembers about one endpoint of a service across requests and
// endpoint refreshes: requests in flight, the peak-EWMA latency estimate, and
// the outlier detector's counters and ejection.

import type { ProxyEndpoint } from './endpoints.js';

/** Peak-EWMA (Finagle / Linkerd): a latency estimate that jumps to a worse sample at once and decays back slowly. */
export class PeakEwma {
  /** Estimated round trip (ms). */
  #cost: number;
  #stamp: number;
  /** True once a real response time was observed (not just the starting guess). */
  measured = false;
  constructor(
    readonly decayMs: number,
    defaultMs: number,
    now: number,
  ) {
    this.#cost = defaultMs;
    this.#stamp = now;
  }

  observe(rttMs: number, now: number): void {
    const elapsed = Math.max(0, now - this.#stamp);
    this.#stamp = now;
    if (!this.measured) {
      // The first sample replaces the starting guess instead of blending with it.
      this.measured = true;
      this.#cost = rttMs;
    } else if (rttMs > this.#cost) this.#cost = rttMs;
    else {
      const decay = Math.exp(-elapsed / this.decayMs);
      this.#cost = this.#cost * decay + rttMs * (1 - decay);
    }
  }

  /** The estimate now: it decays toward 0 while nothing is observed, so an idle endpoint gets tried again. */
  cost(now: number): number {
    const elapsed = now - this.#stamp;
    if (elapsed > 0) {
      this.#cost *= Math.exp(-elapsed / this.decayMs);
      this.#stamp = now;
    }
    return this.#cost;
  }
}

export class EndpointState {
  ep: ProxyEndpoint;
  /** Requests in flight to this endpoint (all clusters). */
  outstanding = 0;
  readonly ewma: PeakEwma;
  consecutive5xx = 0;
  consecutiveGateway = 0;
  /** performance.now() until which it is ejected; 0 = not ejected. */
  ejectedUntil = 0;
  /** Times ejected, decayed by one per outlier interval without a new ejection: the backoff multiplier. */
  ejections = 0;
  lastEjectionAt = 0;

  constructor(ep: ProxyEndpoint, ewmaDecayMs: number, defaultRttMs: number, now: number) {
    this.ep = ep;
    this.ewma = new PeakEwma(ewmaDecayMs, defaultRttMs, now);
  }

  /**
   * Starting latency guess for an endpoint that joins `peers`: their mean measured
   * estimate, so a new instance competes at once instead of waiting for a
   * pessimistic default to decay (30 ms against a 1 ms peer took ≈ 35 s), and is
   * not free either (a zero cost would draw every request until it answered).
   * `defaultRttMs` when no peer was measured yet.
   */
  static startingRttMs(peers: Iterable<EndpointState>, defaultRttMs: number, now: number): number {
    let sum = 0;
    let n = 0;
    for (const p of peers) {
      if (!p.ewma.measured) continue;
      sum += p.ewma.cost(now);
      n++;
    }
    return n === 0 ? defaultRttMs : sum / n;
  }

  ejected(now: number): boolean {
    return this.ejectedUntil > now;
  }
}

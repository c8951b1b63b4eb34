// Cluster-wide rate limits per route, through the gossip ClusterRateLimiter
// (each agent counts what it admits; counts are shared as gossip values and
// summed over a sliding window). With the agent's SharedValues the limit is
// the cluster's; without gossip the same limiter runs over a one-member mux, so
// the limit holds for this agent alone until gossip is wired in.
import { GossipMux } from '../gossip/gossiper.js';
import { ClusterRateLimiter } from '../gossip/rate-limiter.js';
import { SharedValues } from '../gossip/shared-values.js';
import type { Clock, TimerHandle } from '../gossip/types.js';
import type { RateLimitPolicy } from './rules/model.js';

/** Wall-clock time and unref'd timers (rate-limit sharing must not keep the process alive). */
export function systemClock(): Clock {
  let next = 1;
  const timers = new Map<number, NodeJS.Timeout>();
  return {
    now: () => Date.now(),
    setTimeout(fn: () => void, ms: number): TimerHandle {
      const id = next++;
      const t = setTimeout(() => {
        timers.delete(id);
        fn();
      }, ms);
      t.unref();
      timers.set(id, t);
      return { id };
    },
    clearTimeout(h: TimerHandle): void {
      const t = timers.get(h.id);
      if (t) clearTimeout(t);
      timers.delete(h.id);
    },
  };
}

/** SharedValues over a mux whose only member is this process. */
export function soloSharedValues(clock: Clock, localId = 'local'): SharedValues {
  const mux = new GossipMux({ host: { localId, memberCount: () => 1, sendTo: () => undefined }, maxQueued: 64 });
  return new SharedValues({ mux, clock, channel: 'proxy-rate-limits' });
}

export class RouteRateLimits {
  readonly #limiters = new Map<string, ClusterRateLimiter>();
  constructor(
    private readonly shared: SharedValues,
    private readonly clock: Clock,
  ) {}

  /** Admits one request on `route` for `key` if the cluster-wide count allows it. */
  allow(route: string, policy: RateLimitPolicy, key: string): boolean {
    const id = `${route}|${policy.limit}|${policy.windowMs}`;
    let l = this.#limiters.get(id);
    if (!l) {
      l = new ClusterRateLimiter({ shared: this.shared, clock: this.clock, limit: policy.limit, windowMs: policy.windowMs, slots: 10, name: `proxy/${route}` });
      this.#limiters.set(id, l);
    }
    return l.allow(key);
  }

  close(): void {
    for (const l of this.#limiters.values()) l.close();
    this.#limiters.clear();
  }
}

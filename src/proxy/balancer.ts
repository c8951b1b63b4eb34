// Load balancers over a cluster's eligible endpoints (UP, not ejected, weight
// above 0). Each gets the eligible list (the same array until it changes), an
// optional flow-key hash and the endpoints already tried by this request
// (retries go elsewhere when they can).
//   round-robin     smooth weighted round robin (nginx): even interleaving by weight
//   random          weighted random
//   least-request   power of two choices on peak-EWMA latency × (requests in flight + 1) / weight
//   consistent-hash Maglev through the service-table kernel, keyed by a header or the client address
import { defaultMaglevSize, type ServiceTable } from '../kernel/service-table.js';

/** Maglev table entries at least: ≤ 1 % imbalance up to 40 endpoints (M > 100 N), 8 KiB of kernel memory. */
export const MAGLEV_MIN_TABLE = 4093;
import type { EndpointState } from './endpoint-state.js';

export interface Balancer {
  pick(eligible: readonly EndpointState[], hash: number | undefined, tried: ReadonlySet<EndpointState> | undefined, now: number): EndpointState | undefined;
  close?(): void;
}

export type Rng = () => number;

/** Eligible endpoints minus the ones tried, unless that leaves none. */
function untried(eligible: readonly EndpointState[], tried: ReadonlySet<EndpointState> | undefined): readonly EndpointState[] {
  if (!tried || tried.size === 0) return eligible;
  const rest = eligible.filter((e) => !tried.has(e));
  return rest.length ? rest : eligible;
}

function weightedRandom(list: readonly EndpointState[], rng: Rng): EndpointState | undefined {
  if (list.length <= 1) return list[0];
  let total = 0;
  for (const e of list) total += e.ep.weight;
  let r = rng() * total;
  for (const e of list) {
    r -= e.ep.weight;
    if (r < 0) return e;
  }
  return list[list.length - 1];
}

export class RandomBalancer implements Balancer {
  constructor(private readonly rng: Rng = Math.random) {}
  pick(eligible: readonly EndpointState[], _h: number | undefined, tried: ReadonlySet<EndpointState> | undefined): EndpointState | undefined {
    return weightedRandom(untried(eligible, tried), this.rng);
  }
}

export class RoundRobinBalancer implements Balancer {
  #list: readonly EndpointState[] | undefined;
  #current = new Float64Array(0);

  pick(eligible: readonly EndpointState[], _h: number | undefined, tried: ReadonlySet<EndpointState> | undefined, _now?: number): EndpointState | undefined {
    if (eligible.length <= 1) return eligible[0];
    if (this.#list !== eligible) {
      this.#list = eligible;
      this.#current = new Float64Array(eligible.length);
    }
    const cur = this.#current;
    let total = 0;
    let best = -1;
    for (let i = 0; i < eligible.length; i++) {
      const e = eligible[i]!;
      if (tried?.has(e) && tried.size < eligible.length) continue;
      cur[i]! += e.ep.weight;
      total += e.ep.weight;
      if (best < 0 || cur[i]! > cur[best]!) best = i;
    }
    if (best < 0) return undefined;
    cur[best]! -= total;
    return eligible[best];
  }
}

export class LeastRequestBalancer implements Balancer {
  constructor(private readonly rng: Rng = Math.random) {}
  pick(eligible: readonly EndpointState[], _h: number | undefined, tried: ReadonlySet<EndpointState> | undefined, now: number): EndpointState | undefined {
    const list = untried(eligible, tried);
    const n = list.length;
    if (n <= 1) return list[0];
    const i = Math.floor(this.rng() * n);
    let j = Math.floor(this.rng() * (n - 1));
    if (j >= i) j++;
    const a = list[i]!;
    const b = list[j]!;
    return load(a, now) <= load(b, now) ? a : b;
  }
}

function load(e: EndpointState, now: number): number {
  return (e.ewma.cost(now) * (e.outstanding + 1)) / e.ep.weight;
}

let maglevKeys = 0;

/** Maglev consistent hashing: the kernel table is rebuilt when the eligible set changes (minimal disruption). */
export class MaglevBalancer implements Balancer {
  readonly #table: ServiceTable;
  readonly #key = `maglev-${++maglevKeys}`;
  readonly #fallback: Balancer;
  #list: readonly EndpointState[] | undefined;

  constructor(table: ServiceTable, fallback: Balancer) {
    this.#table = table;
    this.#fallback = fallback;
  }

  pick(eligible: readonly EndpointState[], hash: number | undefined, tried: ReadonlySet<EndpointState> | undefined, now: number): EndpointState | undefined {
    if (hash === undefined || eligible.length <= 1) return this.#fallback.pick(eligible, hash, tried, now);
    if (this.#list !== eligible) {
      this.#list = eligible;
      this.#table.set(this.#key, eligible.map((e) => Math.max(1, Math.min(0xffffffff, Math.round(e.ep.weight)))));
      // A table size that does not change with the endpoint count (up to ~40 endpoints), so
      // losing or regaining an endpoint moves few keys; the same set always gives the same table.
      this.#table.setMaglev(this.#key, eligible.map((e) => e.ep.key), Math.max(MAGLEV_MIN_TABLE, defaultMaglevSize(eligible.length)));
    }
    const i = this.#table.pickConsistent(this.#key, hash);
    const chosen = i >= 0 ? eligible[i] : undefined;
    if (chosen && !tried?.has(chosen)) return chosen;
    return this.#fallback.pick(eligible, hash, tried, now);
  }

  close(): void {
    this.#table.delete(this.#key);
  }
}

const encoder = new TextEncoder();

/** XXH32 of a flow key of any length through the kernel (255-byte chunks, chained by seed). */
export function flowHash(table: ServiceTable, key: string): number {
  const bytes = encoder.encode(key);
  let h = 0;
  for (let off = 0; off < bytes.length || off === 0; off += 255) {
    h = table.hash(bytes.subarray(off, off + 255), h);
    if (bytes.length === 0) break;
  }
  return h >>> 0;
}

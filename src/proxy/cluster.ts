// Upstream clusters (Envoy's word): a service, or one subset of it, with its
// traffic policy (load balancer, circuit-breaker limits, outlier detection),
// its connection pools and its counters. Endpoint state (requests in flight,
// latency estimate, ejection) is per service and shared by its subsets' clusters.
import type { ClientIdentity } from '../agent/upstream.js';
import type { ServiceTable } from '../kernel/service-table.js';
import { LeastRequestBalancer, MaglevBalancer, RandomBalancer, RoundRobinBalancer, type Balancer } from './balancer.js';
import type { ProxyConfig } from './config.js';
import type { MeshUpstream } from './delivery.js';
import { EndpointState } from './endpoint-state.js';
import type { EndpointDirectory, ProxyEndpoint } from './endpoints.js';
import { EndpointH2Pool } from './h2-pool.js';
import { EndpointHttpPools } from './http-pool.js';
import { RawUpstreamPools } from './raw-pool.js';
import { recordOutcome, type Outcome } from './outlier.js';
import type { ProxyMetrics } from './proxy-metrics.js';
import type { BreakerLimits, DestinationSpec, LbPolicy, OutlierPolicy, SubsetSpec } from './rules/model.js';

export interface ClusterPolicy {
  readonly lb: LbPolicy;
  readonly breaker: BreakerLimits;
  readonly outlier: OutlierPolicy;
}

/** Which endpoints of a service a cluster takes. */
export type SubsetSelector = { readonly kind: 'all' } | { readonly kind: 'subset'; readonly name: string } | { readonly kind: 'version'; readonly version: string };

export function selectorKey(s: SubsetSelector): string {
  return s.kind === 'all' ? '' : s.kind === 'subset' ? `subset=${s.name}` : `version=${s.version}`;
}

function labelOf(ep: ProxyEndpoint, label: string): string | undefined {
  switch (label) {
    case 'version':
      return ep.version;
    case 'instance':
      return ep.instance;
    case 'meshlet':
      return ep.meshlet;
    case 'agent':
      return ep.agent;
    default:
      return undefined;
  }
}

export class ServiceState {
  readonly states = new Map<string, EndpointState>();
  list: EndpointState[] = [];
  /** Bumped whenever eligibility may have changed (endpoints, health, ejection). */
  generation = 0;
  #snapshot: readonly ProxyEndpoint[] | undefined;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly serviceId: string,
    private readonly config: ProxyConfig,
    private readonly metrics: ProxyMetrics,
  ) {}

  refresh(directory: EndpointDirectory, now?: number): void {
    const snap = directory.snapshot(this.serviceId);
    if (snap === this.#snapshot) return;
    now ??= performance.now();
    this.#snapshot = snap;
    const next = new Map<string, EndpointState>();
    let startRttMs: number | undefined;
    for (const ep of snap) {
      let st = this.states.get(ep.key);
      if (st) st.ep = ep;
      else {
        startRttMs ??= EndpointState.startingRttMs(this.states.values(), this.config.ewma.defaultRttMs, now);
        st = new EndpointState(ep, this.config.ewma.decayMs, startRttMs, now);
      }
      next.set(ep.key, st);
    }
    this.states.clear();
    for (const [k, v] of next) this.states.set(k, v);
    this.list = [...next.values()];
    this.generation++;
  }

  /** Feeds outlier detection; an ejection bumps the generation now and again when it ends. */
  report(state: EndpointState, outcome: Outcome, policy: OutlierPolicy, now: number): void {
    if (!recordOutcome(state, outcome, policy, this.list, now)) return;
    this.generation++;
    const labels = { service: this.serviceId, endpoint: state.ep.key };
    this.metrics.ejections.inc(labels);
    this.metrics.ejected.set(labels, 1);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.generation++;
      if (!state.ejected(performance.now() + 1)) this.metrics.ejected.set(labels, 0);
    }, Math.max(0, state.ejectedUntil - now) + 1);
    timer.unref();
    this.#timers.add(timer);
  }

  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}

export class UpstreamCluster {
  readonly key: string;
  policy!: ClusterPolicy;
  #balancer!: Balancer;
  #lbKey = '';
  #labels: Readonly<Record<string, string>> | undefined;
  /** The selector names a subset no Destination defines: no endpoint matches. */
  #unknownSubset = false;
  #rulesGen = -1;
  #eligible: readonly EndpointState[] = [];
  #eligibleGen = -1;

  /** Requests in flight (all attempts). */
  active = 0;
  /** Requests waiting for a connection. */
  pending = 0;
  retriesActive = 0;
  tunnels = 0;

  /** Counts one attempt on `st` in the breaker gauges (in flight, waiting for a connection, a retry) until attemptEnded. */
  attemptStarted(st: EndpointState, isRetry: boolean): void {
    if (isRetry) this.retriesActive++;
    this.active++;
    this.pending++;
    st.outstanding++;
  }

  /** The attempt has its upstream connection: no longer pending. */
  attemptConnected(): void {
    this.pending--;
  }

  /** Undoes attemptStarted; `stillPending` when attemptConnected was not called. */
  attemptEnded(st: EndpointState, isRetry: boolean, stillPending: boolean): void {
    if (stillPending) this.pending--;
    this.active--;
    st.outstanding--;
    if (isRetry) this.retriesActive--;
  }
  readonly http: EndpointHttpPools;
  /** The HTTP/1 fast path's connections. */
  readonly raw: RawUpstreamPools;
  readonly h2: EndpointH2Pool;

  constructor(
    readonly service: ServiceState,
    readonly selector: SubsetSelector,
    private readonly table: ServiceTable,
    delivery: MeshUpstream,
    source: ClientIdentity,
    config: ProxyConfig,
  ) {
    this.key = `${service.serviceId}|${selectorKey(selector)}`;
    this.http = new EndpointHttpPools(delivery, source, config.timeouts.connectMs, config.timeouts.upstreamIdleMs, config.circuitBreaker.maxConnections);
    this.raw = new RawUpstreamPools(delivery, source, config.timeouts.connectMs, config.timeouts.upstreamIdleMs, config.circuitBreaker.maxConnections);
    this.h2 = new EndpointH2Pool(delivery, source, config.timeouts.connectMs, config.timeouts.upstreamIdleMs);
  }

  /** Applies the rules (Destination + subset policy over the proxy defaults) when they changed. */
  applyRules(rulesGen: number, defaults: ProxyConfig, destination: DestinationSpec | undefined): void {
    if (rulesGen === this.#rulesGen) return;
    this.#rulesGen = rulesGen;
    let subset: SubsetSpec | undefined;
    this.#unknownSubset = false;
    if (this.selector.kind === 'subset') {
      const name = this.selector.name;
      subset = destination?.subsets.find((s) => s.name === name);
      this.#unknownSubset = subset === undefined;
    }
    this.#labels = this.selector.kind === 'version' ? { version: this.selector.version } : subset?.labels;
    const d = destination?.policy ?? {};
    const s = subset?.policy ?? {};
    this.policy = {
      lb: s.lb ?? d.lb ?? defaults.loadBalancer,
      breaker: { ...defaults.circuitBreaker, ...d.breaker, ...s.breaker },
      outlier: { ...defaults.outlierDetection, ...d.outlier, ...s.outlier },
    };
    this.http.resize(this.policy.breaker.maxConnections);
    this.raw.maxConnections = this.policy.breaker.maxConnections;
    const lbKey = JSON.stringify(this.policy.lb);
    if (lbKey !== this.#lbKey) {
      this.#balancer?.close?.();
      this.#lbKey = lbKey;
      this.#balancer = makeBalancer(this.policy.lb, this.table);
    }
    this.#eligibleGen = -1;
  }

  /** Endpoints that may take traffic now: in the subset, UP, weight > 0, not ejected. */
  eligible(now: number): readonly EndpointState[] {
    const g = this.service.generation;
    if (g !== this.#eligibleGen) {
      this.#eligibleGen = g;
      const labels = this.#labels;
      this.#eligible = this.#unknownSubset
        ? []
        : this.service.list.filter((st) => {
            const ep = st.ep;
            if (ep.health !== 'UP' || ep.weight <= 0 || st.ejected(now)) return false;
            if (labels) for (const k in labels) if (labelOf(ep, k) !== labels[k]) return false;
            return true;
          });
    }
    return this.#eligible;
  }

  /** Endpoints in the subset, ignoring health and ejection (for error details). */
  members(): number {
    const labels = this.#labels;
    if (this.#unknownSubset) return 0;
    return this.service.list.filter((st) => !labels || Object.entries(labels).every(([k, v]) => labelOf(st.ep, k) === v)).length;
  }

  pick(hash: number | undefined, tried: ReadonlySet<EndpointState> | undefined, now: number): EndpointState | undefined {
    const list = this.eligible(now);
    if (list.length === 0) return undefined;
    return this.#balancer.pick(list, hash, tried, now);
  }

  get connections(): number {
    return this.http.connections + this.raw.connections + this.h2.size + this.tunnels;
  }

  /** What consistent hashing keys on, if this cluster uses it. */
  get hashOn(): { readonly kind: 'header'; readonly name: string } | { readonly kind: 'source' } | undefined {
    return this.policy.lb.kind === 'consistent-hash' ? this.policy.lb.on : undefined;
  }

  close(): void {
    this.#balancer?.close?.();
    this.http.close();
    this.raw.close();
    this.h2.close();
  }
}

function makeBalancer(lb: LbPolicy, table: ServiceTable): Balancer {
  switch (lb.kind) {
    case 'round-robin':
      return new RoundRobinBalancer();
    case 'random':
      return new RandomBalancer();
    case 'least-request':
      return new LeastRequestBalancer();
    case 'consistent-hash':
      return new MaglevBalancer(table, new LeastRequestBalancer());
  }
}

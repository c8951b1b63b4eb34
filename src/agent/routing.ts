// Service routes: for each provided service ID, the endpoints that serve it (the
// providing meshlet's instances) and their weights, kept in the kernel
// ServiceTable that makes the weighted pick. With a canary rollout the weights
// split traffic between the stable and canary versions by the current percent;
// within a version, instances share by their own weights.
import type { MeshletSpec } from '../config/meshlet.js';
import { ServiceTable } from './kernels.js';
import { instanceDir, serverSocketPath } from './socket-layout.js';

/** A place a service can be reached: a local instance's server socket. */
export interface LocalEndpoint {
  readonly kind: 'local';
  readonly namespace: string;
  readonly meshlet: string;
  readonly instance: string;
  readonly version: string;
  /** The instance's server socket for this service. */
  readonly socketPath: string;
}

/** A service endpoint on another agent, reached through a tunnel stream (tunnel-upstream.ts). */
export interface RemoteEndpoint {
  readonly kind: 'remote';
  /** The agent serving it (a tunnel peer name; the gossip member id with the catalog). */
  readonly agentId: string;
  readonly namespace: string;
  readonly meshlet: string;
  /** The instance name on that agent (or the peer name when it does not say). */
  readonly instance: string;
  readonly version: string;
  /** The weight that agent advertises for it (0 while it is DOWN). */
  readonly weight: number;
  /** 'DOWN' when that agent's health checks hold it down (it then has weight 0); absent = UP. */
  readonly health?: 'DOWN';
  readonly socketPath?: undefined;
}

export type Endpoint = LocalEndpoint | RemoteEndpoint;

/** What a RemoteEndpointSource lists: one service endpoint on one peer. */
export interface RemoteServiceEndpoint {
  readonly serviceId: string;
  readonly peer: string;
  readonly instance: string;
  readonly version: string;
  readonly weight: number;
  /** 'DOWN': known but not to be used (give it weight 0 too); absent = UP. */
  readonly health?: 'DOWN';
}

export interface Route {
  readonly serviceId: string;
  readonly service: string;
  /** The local meshlet providing it (its canary decides the split), if any. */
  readonly provider: MeshletSpec | undefined;
  /** Local endpoints first, then remote ones. */
  readonly endpoints: readonly Endpoint[];
  readonly weights: readonly number[];
}

/** Weight units per 100 % of a version's share, so rounding stays negligible. */
const SHARE_SCALE = 10_000;

/**
 * Weights for endpoints of one service, each with a version and its own weight.
 * Without a canary they are the endpoints' weights. With one, the canary version
 * gets `canaryPercent` of the traffic and the stable version the rest, each
 * split by weight across all of that version's endpoints, wherever they run.
 */
export function versionWeights(
  entries: readonly { readonly version: string; readonly weight: number }[],
  canary: MeshletSpec['canary'],
  canaryPercent: number | undefined,
): number[] {
  if (!canary || canaryPercent === undefined) return entries.map((e) => e.weight);
  const sum = (version: string) => entries.reduce((n, e) => n + (e.version === version ? e.weight : 0), 0);
  const stableSum = sum(canary.stable);
  const canarySum = sum(canary.canary);
  return entries.map((e) => {
    const isCanary = e.version === canary.canary;
    if (!isCanary && e.version !== canary.stable) return 0;
    const share = isCanary ? canaryPercent : 100 - canaryPercent;
    const versionSum = isCanary ? canarySum : stableSum;
    if (share === 0 || versionSum === 0 || e.weight === 0) return 0;
    return Math.max(1, Math.round((share * SHARE_SCALE * e.weight) / versionSum));
  });
}

/** Endpoint weights for a meshlet's own instances (see versionWeights). */
export function instanceWeights(spec: MeshletSpec, canaryPercent: number | undefined): number[] {
  return versionWeights(spec.instances, spec.canary, canaryPercent);
}

interface LocalService {
  readonly service: string;
  readonly provider: MeshletSpec;
  readonly canaryPercent: number | undefined;
}

export class ServiceRouter {
  readonly #table: ServiceTable;
  readonly #routes = new Map<string, Route>();
  readonly #local = new Map<string, LocalService>();
  readonly #remote = new Map<string, RemoteEndpoint[]>();
  readonly #socketRoot: string;

  constructor(socketRoot: string, capacity?: number) {
    this.#socketRoot = socketRoot;
    this.#table = new ServiceTable(capacity ? { capacity } : {});
  }

  /** Adds or replaces the routes of every service a meshlet provides. */
  setMeshlet(spec: MeshletSpec, canaryPercent: number | undefined, previous?: MeshletSpec): void {
    if (previous) {
      for (const svc of previous.provides) {
        if (spec.provides.includes(svc)) continue;
        const id = `${svc}.${previous.name}.${previous.namespace}`;
        this.#local.delete(id);
        this.#rebuild(id);
      }
    }
    for (const service of spec.provides) {
      const id = `${service}.${spec.name}.${spec.namespace}`;
      this.#local.set(id, { service, provider: spec, canaryPercent });
      this.#rebuild(id);
    }
  }

  removeMeshlet(spec: MeshletSpec): void {
    for (const svc of spec.provides) {
      const id = `${svc}.${spec.name}.${spec.namespace}`;
      this.#local.delete(id);
      this.#rebuild(id);
    }
  }

  /** Replaces every remote endpoint (from a RemoteEndpointSource); routes are rebuilt where they changed. */
  setRemoteEndpoints(list: readonly RemoteServiceEndpoint[]): void {
    const next = new Map<string, RemoteEndpoint[]>();
    for (const e of list) {
      const parts = e.serviceId.split('.');
      if (parts.length !== 3) continue;
      let arr = next.get(e.serviceId);
      if (!arr) next.set(e.serviceId, (arr = []));
      const down = e.health === 'DOWN';
      arr.push({ kind: 'remote', agentId: e.peer, namespace: parts[2]!, meshlet: parts[1]!, instance: e.instance, version: e.version, weight: down ? 0 : e.weight, ...(down ? { health: 'DOWN' as const } : {}) });
    }
    const touched = new Set([...this.#remote.keys(), ...next.keys()]);
    for (const id of touched) {
      const before = JSON.stringify(this.#remote.get(id) ?? []);
      const after = next.get(id);
      if (after) this.#remote.set(id, after);
      else this.#remote.delete(id);
      if (before !== JSON.stringify(after ?? [])) this.#rebuild(id);
    }
  }

  #rebuild(serviceId: string): void {
    const local = this.#local.get(serviceId);
    const remote = this.#remote.get(serviceId) ?? [];
    if (!local && remote.length === 0) {
      this.#table.delete(serviceId);
      this.#routes.delete(serviceId);
      return;
    }
    const endpoints: Endpoint[] = [];
    const entries: { version: string; weight: number }[] = [];
    if (local) {
      const spec = local.provider;
      for (const inst of spec.instances) {
        endpoints.push({
          kind: 'local',
          namespace: spec.namespace,
          meshlet: spec.name,
          instance: inst.name,
          version: inst.version,
          socketPath: serverSocketPath(instanceDir(this.#socketRoot, spec.namespace, spec.name, inst.name), local.service),
        });
        entries.push(inst);
      }
    }
    for (const r of remote) {
      endpoints.push(r);
      entries.push(r);
    }
    const weights = versionWeights(entries, local?.provider.canary, local?.canaryPercent);
    this.#table.set(serviceId, weights);
    const service = serviceId.slice(0, serviceId.indexOf('.'));
    this.#routes.set(serviceId, { serviceId, service, provider: local?.provider, endpoints, weights });
  }

  route(serviceId: string): Route | undefined {
    return this.#routes.get(serviceId);
  }

  /** True when a local meshlet provides the service (a peer may open streams to it). */
  servesLocally(serviceId: string): boolean {
    return this.#local.has(serviceId);
  }

  /** Weighted pick through the kernel table: an endpoint index, or -1 if no endpoint has weight. */
  pick(serviceId: string): number {
    return this.#table.pick(serviceId, (Math.random() * 0x1_0000_0000) >>> 0);
  }

  /**
   * Weighted pick among endpoints not yet tried (failover after a missing or
   * refusing endpoint); `localOnly` keeps to this agent's own instances (streams
   * that arrived from a peer are never sent on to a third agent).
   */
  pickExcluding(route: Route, tried: ReadonlySet<number>, localOnly = false): number {
    const eligible = (i: number) => !tried.has(i) && (!localOnly || route.endpoints[i]!.kind === 'local');
    let total = 0;
    for (let i = 0; i < route.weights.length; i++) if (eligible(i)) total += route.weights[i]!;
    if (total === 0) return -1;
    let r = Math.random() * total;
    for (let i = 0; i < route.weights.length; i++) {
      if (!eligible(i)) continue;
      r -= route.weights[i]!;
      if (r < 0 && route.weights[i]! > 0) return i;
    }
    for (let i = route.weights.length - 1; i >= 0; i--) if (eligible(i) && route.weights[i]! > 0) return i;
    return -1;
  }

  routes(): IterableIterator<Route> {
    return this.#routes.values();
  }

  get size(): number {
    return this.#routes.size;
  }
}

// Service routes: for each provided service ID, the endpoints that serve it (the
// providing meshlet's instances) and their weights, kept in the kernel
// ServiceTable that makes the weighted pick. With a canary rollout the weights
// split traffic between the stable and canary versions by the current percent;
// within a version, instances share by their own weights.
import type { MeshletSpec } from '../config/meshlet.js';
import { ServiceTable } from './kernels.js';
import { instanceDir, serverSocketPath } from './socket-layout.js';

/** A place a service can be reached. Local now; a remote (tunnel) endpoint later. */
export interface LocalEndpoint {
  readonly kind: 'local';
  readonly namespace: string;
  readonly meshlet: string;
  readonly instance: string;
  readonly version: string;
  /** The instance's server socket for this service. */
  readonly socketPath: string;
}
export type Endpoint = LocalEndpoint;

export interface Route {
  readonly serviceId: string;
  readonly service: string;
  readonly provider: MeshletSpec;
  readonly endpoints: readonly Endpoint[];
  readonly weights: readonly number[];
}

/** Weight units per 100 % of a version's share, so rounding stays negligible. */
const SHARE_SCALE = 10_000;

/**
 * Endpoint weights for a meshlet's instances. Without a canary they are the
 * instance weights. With one, the canary version gets `canaryPercent` of the
 * traffic and the stable version the rest, each split by instance weight.
 */
export function instanceWeights(spec: MeshletSpec, canaryPercent: number | undefined): number[] {
  if (!spec.canary || canaryPercent === undefined) return spec.instances.map((i) => i.weight);
  const sum = (version: string) => spec.instances.reduce((n, i) => n + (i.version === version ? i.weight : 0), 0);
  const stableSum = sum(spec.canary.stable);
  const canarySum = sum(spec.canary.canary);
  return spec.instances.map((i) => {
    const isCanary = i.version === spec.canary!.canary;
    const share = isCanary ? canaryPercent : 100 - canaryPercent;
    const versionSum = isCanary ? canarySum : stableSum;
    if (share === 0 || versionSum === 0 || i.weight === 0) return 0;
    return Math.max(1, Math.round((share * SHARE_SCALE * i.weight) / versionSum));
  });
}

export class ServiceRouter {
  readonly #table: ServiceTable;
  readonly #routes = new Map<string, Route>();
  readonly #socketRoot: string;

  constructor(socketRoot: string, capacity?: number) {
    this.#socketRoot = socketRoot;
    this.#table = new ServiceTable(capacity ? { capacity } : {});
  }

  /** Adds or replaces the routes of every service a meshlet provides. */
  setMeshlet(spec: MeshletSpec, canaryPercent: number | undefined, previous?: MeshletSpec): void {
    if (previous) for (const svc of previous.provides) if (!spec.provides.includes(svc)) this.#delete(`${svc}.${previous.name}.${previous.namespace}`);
    const weights = instanceWeights(spec, canaryPercent);
    for (const service of spec.provides) {
      const serviceId = `${service}.${spec.name}.${spec.namespace}`;
      const endpoints: Endpoint[] = spec.instances.map((inst) => ({
        kind: 'local',
        namespace: spec.namespace,
        meshlet: spec.name,
        instance: inst.name,
        version: inst.version,
        socketPath: serverSocketPath(instanceDir(this.#socketRoot, spec.namespace, spec.name, inst.name), service),
      }));
      this.#table.set(serviceId, weights);
      this.#routes.set(serviceId, { serviceId, service, provider: spec, endpoints, weights });
    }
  }

  removeMeshlet(spec: MeshletSpec): void {
    for (const svc of spec.provides) this.#delete(`${svc}.${spec.name}.${spec.namespace}`);
  }

  #delete(serviceId: string): void {
    this.#table.delete(serviceId);
    this.#routes.delete(serviceId);
  }

  route(serviceId: string): Route | undefined {
    return this.#routes.get(serviceId);
  }

  /** Weighted pick through the kernel table: an endpoint index, or -1 if no endpoint has weight. */
  pick(serviceId: string): number {
    return this.#table.pick(serviceId, (Math.random() * 0x1_0000_0000) >>> 0);
  }

  /** Weighted pick among endpoints not yet tried (failover after a missing or refusing socket). */
  pickExcluding(route: Route, tried: ReadonlySet<number>): number {
    let total = 0;
    for (let i = 0; i < route.weights.length; i++) if (!tried.has(i)) total += route.weights[i]!;
    if (total === 0) return -1;
    let r = Math.random() * total;
    for (let i = 0; i < route.weights.length; i++) {
      if (tried.has(i)) continue;
      r -= route.weights[i]!;
      if (r < 0 && route.weights[i]! > 0) return i;
    }
    for (let i = route.weights.length - 1; i >= 0; i--) if (!tried.has(i) && route.weights[i]! > 0) return i;
    return -1;
  }

  routes(): IterableIterator<Route> {
    return this.#routes.values();
  }

  get size(): number {
    return this.#routes.size;
  }
}

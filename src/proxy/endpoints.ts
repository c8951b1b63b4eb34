// Where the proxy's endpoints come from: the agent's own routes (local meshlet
// instances, with their effective weights, canary included) and, when the
// gossip catalog is wired in, other agents' endpoints (reached through a remote
// upstream: a tunnel). Health is the catalog's for remote endpoints and the
// local health checker's for local ones; DOWN endpoints are never picked.
// `snapshot(serviceId)` returns the same array until something changed, so a
// cluster notices a change by identity, without copying per request.
import type { ServiceRouter, Route, Endpoint, RemoteEndpoint as RouterRemoteEndpoint } from '../agent/routing.js';
import type { CatalogEntry, CatalogEvent } from '../gossip/catalog.js';
import type { ServiceDirectory } from './resolver.js';

export type Health = 'UP' | 'DOWN';

/** An endpoint on another agent, reached through a tunnel (the remote Upstream): the router's remote endpoint, without what the proxy keeps itself (weight, health). */
export type RemoteEndpoint = Pick<RouterRemoteEndpoint, 'kind' | 'agentId' | 'namespace' | 'meshlet' | 'instance' | 'version'>;

export type MeshEndpoint = Endpoint | RemoteEndpoint;

export interface ProxyEndpoint {
  /** Stable across refreshes: `local/<instance>` or `<agentId>/<instance>`. */
  readonly key: string;
  readonly serviceId: string;
  /** The service part of the ID (`rest` of rest.orders.shop). */
  readonly service: string;
  readonly meshlet: string;
  readonly namespace: string;
  readonly instance: string;
  readonly version: string;
  /** `local` or the agent id. */
  readonly agent: string;
  readonly weight: number;
  readonly health: Health;
  readonly target: MeshEndpoint;
}

/** The slice of ServiceCatalog the proxy reads (ServiceCatalog satisfies it). */
export interface CatalogView {
  readonly localId: string;
  endpoints(serviceId: string): CatalogEntry[];
  services(): string[];
  onChange(listener: (event: CatalogEvent) => void): void;
}

/** Health marks of local instances, set by the health checker. */
export class LocalHealth {
  readonly #down = new Set<string>();
  generation = 0;
  static key(serviceId: string, instance: string): string {
    return `${serviceId}\u0000${instance}`;
  }
  set(serviceId: string, instance: string, health: Health): boolean {
    const k = LocalHealth.key(serviceId, instance);
    const was = this.#down.has(k);
    if ((health === 'DOWN') === was) return false;
    if (health === 'DOWN') this.#down.add(k);
    else this.#down.delete(k);
    this.generation++;
    return true;
  }
  get(serviceId: string, instance: string): Health {
    return this.#down.has(LocalHealth.key(serviceId, instance)) ? 'DOWN' : 'UP';
  }
}

interface Cached {
  route: Route | undefined;
  catalogGen: number;
  healthGen: number;
  list: readonly ProxyEndpoint[];
}

const EMPTY: readonly ProxyEndpoint[] = Object.freeze([]);

export interface EndpointDirectoryOptions {
  router: ServiceRouter;
  health: LocalHealth;
  catalog?: CatalogView;
  /** Whether remote endpoints can be reached (a remote upstream exists). */
  remoteReachable: boolean;
}

export class EndpointDirectory implements ServiceDirectory {
  readonly #router: ServiceRouter;
  readonly #health: LocalHealth;
  readonly #catalog: CatalogView | undefined;
  readonly #remote: boolean;
  readonly #cache = new Map<string, Cached>();
  #catalogGen = 0;
  /** Bumped by the agent after a meshlet reload (services may have come or gone). */
  #topologyGen = 0;
  #routerSize = -1;

  constructor(options: EndpointDirectoryOptions) {
    this.#router = options.router;
    this.#health = options.health;
    this.#catalog = options.catalog;
    this.#remote = options.remoteReachable;
    this.#catalog?.onChange((e) => {
      this.#catalogGen++;
      if (e.type === 'remove' || e.previous === null) this.#topologyGen++;
    });
  }

  /** The agent calls this after its routes changed (reload). */
  topologyChanged(): void {
    this.#topologyGen++;
  }

  get generation(): number {
    // A cheap guard in case a change was not announced: a different route count.
    if (this.#router.size !== this.#routerSize) {
      this.#routerSize = this.#router.size;
      this.#topologyGen++;
    }
    return this.#topologyGen;
  }

  services(): Iterable<string> {
    const ids = new Set<string>();
    for (const r of this.#router.routes()) ids.add(r.serviceId);
    if (this.#catalog && this.#remote) for (const s of this.#catalog.services()) ids.add(s);
    return ids;
  }

  has(serviceId: string): boolean {
    if (this.#router.route(serviceId)) return true;
    return !!this.#catalog && this.#remote && this.#catalog.endpoints(serviceId).some((e) => e.agentId !== this.#catalog!.localId);
  }

  /** Every endpoint of the service, UP and DOWN; the same array until something changed. */
  snapshot(serviceId: string): readonly ProxyEndpoint[] {
    const route = this.#router.route(serviceId);
    const c = this.#cache.get(serviceId);
    if (c && c.route === route && c.catalogGen === this.#catalogGen && c.healthGen === this.#health.generation) return c.list;
    const list = this.#build(serviceId, route);
    this.#cache.set(serviceId, { route, catalogGen: this.#catalogGen, healthGen: this.#health.generation, list });
    return list;
  }

  #build(serviceId: string, route: Route | undefined): readonly ProxyEndpoint[] {
    const out: ProxyEndpoint[] = [];
    const [service = '', meshlet = '', namespace = ''] = serviceId.split('.');
    if (route) {
      route.endpoints.forEach((ep, i) => {
        // The agent's routes hold other agents' endpoints too (from its tunnel layer): keyed by their
        // agent, or two agents' `main` instances would share one endpoint state.
        const agent = ep.kind === 'remote' ? ep.agentId : 'local';
        out.push({
          key: `${agent}/${ep.instance}`,
          serviceId,
          service,
          meshlet: ep.meshlet,
          namespace: ep.namespace,
          instance: ep.instance,
          version: ep.version,
          agent,
          weight: route.weights[i] ?? 0,
          health: ep.kind === 'remote' ? (ep.health ?? 'UP') : this.#health.get(serviceId, ep.instance),
          target: ep,
        });
      });
    }
    if (this.#catalog && this.#remote) {
      const seen = new Set(out.map((e) => e.key));
      for (const e of this.#catalog.endpoints(serviceId)) {
        if (e.agentId === this.#catalog.localId || seen.has(`${e.agentId}/${e.instance}`)) continue;
        out.push({
          key: `${e.agentId}/${e.instance}`,
          serviceId,
          service,
          meshlet: e.meshlet,
          namespace,
          instance: e.instance,
          version: e.version,
          agent: e.agentId,
          weight: e.weight,
          health: e.health,
          target: { kind: 'remote', agentId: e.agentId, namespace, meshlet: e.meshlet || meshlet, instance: e.instance, version: e.version },
        });
      }
    }
    return out.length ? out : EMPTY;
  }
}

// Wiring of the sidecar proxy into the node agent, kept here so the agent's
// own files only create, start and close it. Sidecar mode: the local app is
// the agent's meshlet named by proxy.meshlet (or its only meshlet); its `uses`
// is enforced, its namespace is the default for short names, and it is the
// identity of outgoing connections. Per-host mode: no caller identity (every
// local app shares 127.0.0.1), so no access control; short names resolve in
// proxy.namespace (default "default").
import type { MetricsRegistry } from '../admin/metrics.js';
import type { Logger } from '../agent/log.js';
import type { ServiceRouter } from '../agent/routing.js';
import type { ClientIdentity, Upstream } from '../agent/upstream.js';
import type { UsesMatcher } from '../agent/uses-matcher.js';
import type { MeshletSpec } from '../config/meshlet.js';
import { WeftError } from '../errors.js';
import type { SharedValues } from '../gossip/shared-values.js';
import type { ProxyConfig } from './config.js';
import type { MeshUpstream } from './delivery.js';
import type { CatalogView, Health } from './endpoints.js';
import type { HealthReporter } from './health-check.js';
import type { DestinationResolver, ProxyProtocol } from './resolver.js';
import { SidecarProxy } from './sidecar-proxy.js';

/** What the agent's other layers can hand the proxy once they run in the same process. */
export interface AgentProxyDeps {
  /** Tunnel delivery to other agents' endpoints. */
  remote?: MeshUpstream;
  /** The gossip catalog: remote endpoints and health; also the default health reporter. */
  catalog?: CatalogView & Partial<HealthReporter>;
  healthReporter?: HealthReporter;
  /** Gossip shared values, for cluster-wide rate limits. */
  shared?: SharedValues;
  resolvers?: Partial<Record<ProxyProtocol, DestinationResolver>>;
}

/**
 * `deps` with every health verdict shown to `observe` first, then passed on to the
 * reporter they name (or their catalog's setHealth). What that reporter returns is
 * logged with the verdict; without one, `unreported` is.
 */
export function teeHealthReporter(
  deps: AgentProxyDeps | undefined,
  observe: (serviceId: string, instance: string, health: Health) => void,
  unreported?: unknown,
): AgentProxyDeps {
  const catalog = deps?.catalog;
  const next: HealthReporter | undefined = deps?.healthReporter ?? (catalog && typeof catalog.setHealth === 'function' ? (catalog as HealthReporter) : undefined);
  return {
    ...deps,
    healthReporter: {
      setHealth: (serviceId, instance, health) => {
        observe(serviceId, instance, health);
        return next ? next.setHealth(serviceId, instance, health) : unreported;
      },
    },
  };
}

export interface AgentProxyParts {
  config: ProxyConfig;
  router: ServiceRouter;
  upstream: Upstream;
  registry: MetricsRegistry;
  log: Logger;
  /** The agent's meshlets now. */
  meshlets: () => readonly MeshletSpec[];
  /** A meshlet's current uses matcher, by key `<ns>/<name>`. */
  uses: (key: string) => UsesMatcher | undefined;
  deps?: AgentProxyDeps | undefined;
}

/** The sidecar's meshlet: proxy.meshlet (`name.ns` or `name`), else the only one. */
export function sidecarMeshlet(config: ProxyConfig, meshlets: readonly MeshletSpec[]): MeshletSpec {
  if (config.meshlet !== undefined) {
    const [name, ns] = config.meshlet.split('.');
    const found = meshlets.filter((m) => m.name === name && (ns === undefined || m.namespace === ns));
    if (found.length === 1) return found[0]!;
    throw new WeftError('WEFT-A001', `proxy.meshlet: ${config.meshlet} names ${found.length} meshlets; expected exactly one`, { field: 'proxy.meshlet' });
  }
  if (meshlets.length === 1) return meshlets[0]!;
  throw new WeftError('WEFT-A001', `proxy.meshlet: sidecar mode with ${meshlets.length} meshlets needs proxy.meshlet: <name>.<ns>`, { field: 'proxy.meshlet' });
}

export function createAgentProxy(a: AgentProxyParts): SidecarProxy {
  const sidecar = a.config.mode === 'sidecar';
  let own: MeshletSpec | undefined;
  const mine = () => (own ??= sidecarMeshlet(a.config, a.meshlets()));
  const identity = (): ClientIdentity | undefined => {
    if (!sidecar) return undefined;
    const m = mine();
    return { namespace: m.namespace, meshlet: m.name, instance: m.instances[0]?.name ?? 'main' };
  };
  const catalog = a.deps?.catalog;
  const reporter = a.deps?.healthReporter ?? (catalog && typeof catalog.setHealth === 'function' ? (catalog as HealthReporter) : undefined);
  return new SidecarProxy({
    config: a.config,
    router: a.router,
    upstream: a.upstream,
    registry: a.registry,
    log: a.log,
    remote: a.deps?.remote,
    catalog,
    healthReporter: reporter,
    shared: a.deps?.shared,
    ...(a.deps?.resolvers ? { resolvers: a.deps.resolvers } : {}),
    identity,
    namespace: () => (sidecar ? mine().namespace : undefined),
    allows: sidecar ? (id) => a.uses(mine().key)?.allows(id) ?? false : undefined,
  });
}

// Destination resolvers: from what a client asked for (an HTTP Host, a CONNECT
// target, an h2 :authority) to a mesh service ID. One resolver per protocol
// can be plugged in; the default for all three is MeshHostResolver:
//
//   <svc>.<meshlet>.<ns>          that service ID, as written
//   <meshlet>[.<ns>][:port]       a service of that meshlet (ns defaults to the proxy's):
//                                   1. the port names the service through --service-ports
//                                      (rest:8080 → port 8080 is service `rest`)
//                                   2. else the meshlet's only service
//                                   3. else its service named like the meshlet
//   <svc>[.<ns>]                  else, the only service of that name in the namespace
//   <name>.<ns>.svc[.cluster.local]   Kubernetes names: the suffix is stripped first
//
// Anything else (IP literals, other domains) is not a mesh name. Results are
// cached per host until the set of known services changes.
import { isDnsLabel } from '../sdk/service-id.js';

export type ResolveFailure = 'not-mesh' | 'unknown' | 'ambiguous';

export type Resolution =
  | { readonly ok: true; readonly serviceId: string }
  | { readonly ok: false; readonly reason: ResolveFailure; readonly candidates: readonly string[] };

export type ProxyProtocol = 'http' | 'connect' | 'h2';

export interface DestinationResolver {
  /** `host` lower-case without port; `port` as given, if any; `namespace` the default for short names. */
  resolve(host: string, port: number | undefined, namespace: string): Resolution;
}

/** The service IDs the mesh knows now; `generation` changes whenever that set may have. */
export interface ServiceDirectory {
  readonly generation: number;
  services(): Iterable<string>;
  has(serviceId: string): boolean;
}

export interface MeshHostResolverOptions {
  directory: ServiceDirectory;
  /** service name → port (--service-ports); the reverse map resolves a port to a service. */
  servicePorts?: ReadonlyMap<string, number>;
  /** Suffixes stripped from hosts (default svc.cluster.local, svc). */
  clusterDomains?: readonly string[];
}

const CACHE_LIMIT = 4096;

export class MeshHostResolver implements DestinationResolver {
  readonly #directory: ServiceDirectory;
  readonly #portToService = new Map<number, string>();
  readonly #suffixes: readonly string[];
  readonly #cache = new Map<string, Resolution>();
  #cacheGeneration = -1;

  constructor(options: MeshHostResolverOptions) {
    this.#directory = options.directory;
    for (const [svc, port] of options.servicePorts ?? []) this.#portToService.set(port, svc);
    this.#suffixes = (options.clusterDomains ?? ['svc.cluster.local', 'svc']).map((d) => `.${d.replace(/^\.+|\.+$/g, '').toLowerCase()}`);
  }

  resolve(host: string, port: number | undefined, namespace: string): Resolution {
    if (this.#cacheGeneration !== this.#directory.generation) {
      this.#cache.clear();
      this.#cacheGeneration = this.#directory.generation;
    }
    const key = port === undefined ? `${namespace} ${host}` : `${namespace} ${host}:${port}`;
    let r = this.#cache.get(key);
    if (r === undefined) {
      r = this.#resolve(host, port, namespace);
      if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
      this.#cache.set(key, r);
    }
    return r;
  }

  #resolve(rawHost: string, port: number | undefined, namespace: string): Resolution {
    let host = rawHost.endsWith('.') ? rawHost.slice(0, -1) : rawHost;
    let kube = false;
    for (const s of this.#suffixes) {
      if (host.endsWith(s)) {
        host = host.slice(0, -s.length);
        kube = true;
        break;
      }
    }
    const labels = host.split('.');
    if (labels.some((l) => !isDnsLabel(l)) || labels.length > 3 || (kube && labels.length !== 2)) return fail('not-mesh');
    if (labels.length === 3) return this.#directory.has(host) ? { ok: true, serviceId: host } : fail('unknown');
    const name = labels[0]!;
    const ns = labels[1] ?? namespace;
    const known = [...this.#directory.services()];
    const ofMeshlet = known.filter((id) => {
      const [, m, n] = id.split('.');
      return m === name && n === ns;
    });
    if (port !== undefined) {
      const svc = this.#portToService.get(port);
      if (svc !== undefined && this.#directory.has(`${svc}.${name}.${ns}`)) return { ok: true, serviceId: `${svc}.${name}.${ns}` };
    }
    if (ofMeshlet.length === 1) return { ok: true, serviceId: ofMeshlet[0]! };
    if (ofMeshlet.length > 1) {
      const same = `${name}.${name}.${ns}`;
      return ofMeshlet.includes(same) ? { ok: true, serviceId: same } : fail('ambiguous', ofMeshlet);
    }
    const named = known.filter((id) => id.startsWith(`${name}.`) && id.endsWith(`.${ns}`));
    if (named.length === 1) return { ok: true, serviceId: named[0]! };
    if (named.length > 1) return fail('ambiguous', named);
    return fail('unknown');
  }
}

function fail(reason: ResolveFailure, candidates: readonly string[] = []): Resolution {
  return { ok: false, reason, candidates: [...candidates].sort() };
}

/** Splits `host[:port]` / `[v6]:port`; lower-cases the host. Null when the port is not a number 1..65535. */
export function splitHostPort(authority: string): { host: string; port: number | undefined } | null {
  let host = authority;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    if (end < 0) return null;
    host = authority.slice(0, end + 1);
    const rest = authority.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return null;
      portText = rest.slice(1);
    }
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon >= 0) {
      host = authority.slice(0, colon);
      portText = authority.slice(colon + 1);
    }
  }
  if (host === '') return null;
  if (portText === undefined) return { host: host.toLowerCase(), port: undefined };
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port < 1 || port > 65535) return null;
  return { host: host.toLowerCase(), port };
}

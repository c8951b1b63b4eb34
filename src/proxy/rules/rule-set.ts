// The loaded rules, looked up per request: which HTTP route (first match wins,
// Route documents in file order) and which Destination apply to a service ID.
// Hosts are resolved through the same resolver as requests, in the namespace of
// the document that names them; the per-service result is cached until the set
// of known services changes.
import type { DestinationResolver, ServiceDirectory } from '../resolver.js';
import type { DestinationSpec, HttpRoute, RequestMatch, RouteSpec, StringMatch } from './model.js';

/** What route matching looks at. */
export interface RequestView {
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly port: number | undefined;
}

interface ServiceRules {
  readonly routes: readonly HttpRoute[];
  readonly destination: DestinationSpec | undefined;
}

const NONE: ServiceRules = { routes: [], destination: undefined };

export function matchString(m: StringMatch, v: string): boolean {
  switch (m.kind) {
    case 'exact':
      return v === m.value;
    case 'prefix':
      return v.startsWith(m.value);
    case 'regex':
      return m.re.test(v);
  }
}

export function matchRequest(m: RequestMatch, req: RequestView): boolean {
  if (m.path && !matchString(m.path, req.path)) return false;
  if (m.method && !matchString(m.method, req.method)) return false;
  if (m.port !== undefined && m.port !== req.port) return false;
  for (const h of m.headers) {
    const raw = req.headers[h.name];
    const value = Array.isArray(raw) ? raw.join(',') : raw;
    const hit = value !== undefined && (h.match === undefined || matchString(h.match, value));
    if (hit === h.invert) return false;
  }
  return true;
}

export function selectRoute(routes: readonly HttpRoute[], req: RequestView): HttpRoute | undefined {
  for (const r of routes) {
    if (r.match.length === 0) return r;
    for (const m of r.match) if (matchRequest(m, req)) return r;
  }
  return undefined;
}

export class RuleSet {
  readonly routes: readonly RouteSpec[];
  readonly destinations: readonly DestinationSpec[];
  readonly #resolver: DestinationResolver;
  readonly #directory: ServiceDirectory;
  readonly #byService = new Map<string, ServiceRules>();
  #generation = -1;

  constructor(routes: readonly RouteSpec[], destinations: readonly DestinationSpec[], resolver: DestinationResolver, directory: ServiceDirectory) {
    this.routes = routes;
    this.destinations = destinations;
    this.#resolver = resolver;
    this.#directory = directory;
  }

  get empty(): boolean {
    return this.routes.length === 0 && this.destinations.length === 0;
  }

  /** A host as a rule wrote it, resolved in the rule's namespace; '*' is every service. */
  resolveHost(host: string, namespace: string): string | undefined {
    const colon = host.lastIndexOf(':');
    const bare = colon > 0 && /^\d+$/.test(host.slice(colon + 1)) ? host.slice(0, colon) : host;
    const port = bare === host ? undefined : Number(host.slice(colon + 1));
    const r = this.#resolver.resolve(bare, port, namespace);
    return r.ok ? r.serviceId : undefined;
  }

  #rules(serviceId: string): ServiceRules {
    if (this.#generation !== this.#directory.generation) {
      this.#byService.clear();
      this.#generation = this.#directory.generation;
    }
    let r = this.#byService.get(serviceId);
    if (r === undefined) {
      if (this.empty) r = NONE;
      else {
        const routes: HttpRoute[] = [];
        for (const spec of this.routes) {
          if (spec.hosts.some((h) => h === '*' || this.resolveHost(h, spec.namespace) === serviceId)) routes.push(...spec.http);
        }
        const destination = this.destinations.find((d) => d.host === '*' || this.resolveHost(d.host, d.namespace) === serviceId);
        r = routes.length === 0 && destination === undefined ? NONE : { routes, destination };
      }
      this.#byService.set(serviceId, r);
    }
    return r;
  }

  /** The first HTTP route for this service whose match holds, or undefined (default routing). */
  select(serviceId: string, req: RequestView): HttpRoute | undefined {
    const r = this.#rules(serviceId);
    return r.routes.length === 0 ? undefined : selectRoute(r.routes, req);
  }

  destination(serviceId: string): DestinationSpec | undefined {
    return this.#rules(serviceId).destination;
  }
}

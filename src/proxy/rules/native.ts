// weft's own rule documents (apiVersion weft.dev/v1alpha1): `kind: Route`
// (hosts, then HTTP routes: match, weighted destinations, timeout, retries,
// fault, rate limit, header edits, path rewrite) and `kind: Destination`
// (load balancer, circuit breaker, outlier detection, subsets by labels).
// Shapes follow Istio's so that a reader of one reads the other.
import { FieldPath, dnsLabel, integer, isMapping, list, mapping, string, type Mapping } from '../../config/fields.js';
import {
  breakerLimits,
  faultPolicy,
  headerMatch,
  headerOps,
  lbPolicy,
  ms,
  outlierPolicy,
  rateLimitPolicy,
  retryPolicy,
  stringMatch,
} from './fields.js';
import { SUBSET_LABELS, type DestinationSpec, type HttpRoute, type RequestMatch, type RouteSpec, type SubsetSpec, type TrafficPolicy, type WeightedDestination } from './model.js';

export const WEFT_RULES_API = 'weft.dev/v1alpha1';

export function metadata(doc: Mapping, at: FieldPath, defaultNamespace: string): { name: string; namespace: string } {
  const mAt = at.key('metadata');
  const m = mapping(doc.metadata, mAt, Object.keys(isMapping(doc.metadata) ? doc.metadata : {}));
  return { name: string(m.name, mAt.key('name')), namespace: dnsLabel(m.namespace, mAt.key('namespace'), defaultNamespace) };
}

export function parseRouteDoc(doc: Mapping, at: FieldPath, defaultNamespace: string): RouteSpec {
  mapping(doc, at, ['apiVersion', 'kind', 'metadata', 'spec']);
  const { name, namespace } = metadata(doc, at, defaultNamespace);
  const sAt = at.key('spec');
  const spec = mapping(doc.spec, sAt, ['hosts', 'http']);
  const hosts = list(spec.hosts, sAt.key('hosts'), false).map((h, i) => string(h, sAt.key('hosts').index(i)).toLowerCase());
  if (hosts.length === 0) throw sAt.key('hosts').error('at least one host', spec.hosts);
  const key = `${namespace}/${name}`;
  const http = list(spec.http, sAt.key('http'), false).map((r, i) => parseHttpRoute(r, sAt.key('http').index(i), key, i));
  return { kind: 'route', key, namespace, hosts, http, source: at.file };
}

function parseHttpRoute(v: unknown, at: FieldPath, docKey: string, index: number): HttpRoute {
  const m = mapping(v, at, ['name', 'match', 'destinations', 'timeout', 'retries', 'fault', 'rateLimit', 'headers', 'rewrite']);
  const name = m.name === undefined ? String(index) : string(m.name, at.key('name'));
  const match = list(m.match, at.key('match')).map((x, i) => parseMatch(x, at.key('match').index(i)));
  const dAt = at.key('destinations');
  const destinations = list(m.destinations, dAt, false).map((d, i): WeightedDestination => {
    const p = dAt.index(i);
    const dm = mapping(d, p, ['host', 'subset', 'version', 'weight']);
    if (dm.subset !== undefined && dm.version !== undefined) throw p.error('subset or version, not both', d);
    return {
      host: dm.host === undefined ? undefined : string(dm.host, p.key('host')).toLowerCase(),
      subset: dm.subset === undefined ? undefined : string(dm.subset, p.key('subset')),
      version: dm.version === undefined ? undefined : string(dm.version, p.key('version')),
      weight: integer(dm.weight, p.key('weight'), 0, 1_000_000, 1),
    };
  });
  if (destinations.length === 0) throw dAt.error('at least one destination', m.destinations);
  if (destinations.every((d) => d.weight === 0)) throw dAt.error('a destination with weight above 0', m.destinations);
  const hAt = at.key('headers');
  const h = m.headers === undefined ? {} : mapping(m.headers, hAt, ['request', 'response']);
  const rewrite = m.rewrite === undefined ? undefined : mapping(m.rewrite, at.key('rewrite'), ['path']);
  return {
    name: `${docKey}/${name}`,
    match,
    destinations,
    timeoutMs: m.timeout === undefined ? undefined : ms(m.timeout, at.key('timeout'), undefined),
    retries: m.retries === undefined ? undefined : retryPolicy(m.retries, at.key('retries')),
    fault: m.fault === undefined ? undefined : faultPolicy(m.fault, at.key('fault')),
    rateLimit: m.rateLimit === undefined ? undefined : rateLimitPolicy(m.rateLimit, at.key('rateLimit')),
    requestHeaders: h.request === undefined ? undefined : headerOps(h.request, hAt.key('request')),
    responseHeaders: h.response === undefined ? undefined : headerOps(h.response, hAt.key('response')),
    rewritePath: rewrite === undefined ? undefined : string(rewrite.path, at.key('rewrite').key('path')),
  };
}

function parseMatch(v: unknown, at: FieldPath): RequestMatch {
  const m = mapping(v, at, ['path', 'method', 'headers', 'port']);
  const headers = m.headers === undefined ? [] : Object.entries(mapping(m.headers, at.key('headers'), Object.keys(isMapping(m.headers) ? m.headers : {}))).map(([k, x]) => headerMatch(k, x, at.key('headers').key(k)));
  const method = typeof m.method === 'string' ? { kind: 'exact' as const, value: m.method.toUpperCase() } : m.method === undefined ? undefined : stringMatch(m.method, at.key('method'));
  return {
    ...(m.path !== undefined ? { path: stringMatch(m.path, at.key('path')) } : {}),
    ...(method ? { method } : {}),
    headers,
    ...(m.port !== undefined ? { port: integer(m.port, at.key('port'), 1, 65535) } : {}),
  };
}

export function parseDestinationDoc(doc: Mapping, at: FieldPath, defaultNamespace: string): DestinationSpec {
  mapping(doc, at, ['apiVersion', 'kind', 'metadata', 'spec']);
  const { name, namespace } = metadata(doc, at, defaultNamespace);
  const sAt = at.key('spec');
  const spec = mapping(doc.spec, sAt, ['host', 'loadBalancer', 'circuitBreaker', 'outlierDetection', 'subsets']);
  const subsets = list(spec.subsets, sAt.key('subsets')).map((s, i): SubsetSpec => {
    const p = sAt.key('subsets').index(i);
    const sm = mapping(s, p, ['name', 'labels', 'loadBalancer', 'circuitBreaker', 'outlierDetection']);
    return { name: string(sm.name, p.key('name')), labels: subsetLabels(sm.labels, p.key('labels')), policy: trafficPolicy(sm, p) };
  });
  return {
    kind: 'destination',
    key: `${namespace}/${name}`,
    namespace,
    host: string(spec.host, sAt.key('host')).toLowerCase(),
    policy: trafficPolicy(spec, sAt),
    subsets,
    source: at.file,
  };
}

/** Labels an endpoint has: version, instance, meshlet, agent. */
export function subsetLabels(v: unknown, at: FieldPath): Record<string, string> {
  const m = mapping(v, at, SUBSET_LABELS);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(m)) out[k] = string(x, at.key(k));
  if (Object.keys(out).length === 0) throw at.error(`at least one of the labels ${SUBSET_LABELS.join(', ')}`, v);
  return out;
}

function trafficPolicy(m: Mapping, at: FieldPath): TrafficPolicy {
  return {
    ...(m.loadBalancer !== undefined ? { lb: lbPolicy(m.loadBalancer, at.key('loadBalancer')) } : {}),
    ...(m.circuitBreaker !== undefined ? { breaker: breakerLimits(m.circuitBreaker, at.key('circuitBreaker')) } : {}),
    ...(m.outlierDetection !== undefined ? { outlier: outlierPolicy(m.outlierDetection, at.key('outlierDetection')) } : {}),
  };
}

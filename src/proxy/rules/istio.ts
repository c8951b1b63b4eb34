// Imports Istio traffic-management objects (networking.istio.io v1alpha3,
// v1beta1 and v1) into weft's rule model: VirtualService http routes (match on
// uri/method/headers/withoutHeaders/port, weighted destinations with subsets,
// timeout, retries, fault delay/abort, header edits, uri rewrite) and
// DestinationRule (loadBalancer simple/consistentHash, connectionPool limits,
// outlierDetection, subsets by labels). Fields weft does not implement are not
// silently dropped: each one is listed in `ignored` (logged by the loader);
// a route that only redirects or mirrors is an error, since dropping it would
// change where traffic goes.
import { FieldPath, integer, isMapping, list, string, type Mapping } from '../../config/fields.js';
import { headerMatch, headerOps, httpStatus, ms, retryOnNames, stringMatch } from './fields.js';
import { retryOn, SUBSET_LABELS, type BreakerLimits, type DestinationSpec, type FaultPolicy, type HttpRoute, type LbPolicy, type OutlierPolicy, type RequestMatch, type RouteSpec, type SubsetSpec, type TrafficPolicy, type WeightedDestination } from './model.js';
import { metadata } from './native.js';

export const ISTIO_API_VERSIONS = ['networking.istio.io/v1alpha3', 'networking.istio.io/v1beta1', 'networking.istio.io/v1'] as const;

export interface ImportNotes {
  /** Field paths present in the input that weft does not implement. */
  readonly ignored: string[];
}

function obj(v: unknown, at: FieldPath): Mapping {
  if (!isMapping(v)) throw at.error('a mapping', v);
  return v;
}

/** Records every key of `m` not in `known` as ignored. */
function noteUnknown(m: Mapping, at: FieldPath, known: readonly string[], notes: ImportNotes): void {
  for (const k of Object.keys(m)) if (!known.includes(k)) notes.ignored.push(`${at.key(k).path}`);
}

/** Istio host names: `reviews`, `reviews.prod`, `reviews.prod.svc.cluster.local`; the resolver strips cluster domains. */
function host(v: unknown, at: FieldPath): string {
  return string(v, at).toLowerCase();
}

/** Istio percentages: `percentage: {value: 12.5}` (double) or the older `percent: 12` (int). */
function istioPercent(m: Mapping, at: FieldPath): number {
  if (m.percentage !== undefined) {
    const p = obj(m.percentage, at.key('percentage'));
    const v = p.value;
    if (typeof v !== 'number' || v < 0 || v > 100) throw at.key('percentage').key('value').error('a percentage from 0 to 100', v);
    return v / 100;
  }
  if (m.percent !== undefined) return integer(m.percent, at.key('percent'), 0, 100) / 100;
  return 1; // Istio: no percentage means every request
}

export function importVirtualService(doc: Mapping, at: FieldPath, defaultNamespace: string, notes: ImportNotes): RouteSpec {
  const { name, namespace } = metadata(doc, at, defaultNamespace);
  const sAt = at.key('spec');
  const spec = obj(doc.spec, sAt);
  noteUnknown(spec, sAt, ['hosts', 'http', 'gateways', 'exportTo'], notes);
  const gateways = list(spec.gateways, sAt.key('gateways'));
  if (gateways.length > 0 && !gateways.includes('mesh')) notes.ignored.push(`${sAt.key('gateways').path} (gateway-only routes do not apply to the sidecar)`);
  const hosts = list(spec.hosts, sAt.key('hosts'), false).map((h, i) => host(h, sAt.key('hosts').index(i)));
  if (hosts.length === 0) throw sAt.key('hosts').error('at least one host', spec.hosts);
  const key = `${namespace}/${name}`;
  const http = list(spec.http, sAt.key('http')).map((r, i) => importHttpRoute(r, sAt.key('http').index(i), key, i, notes));
  return { kind: 'route', key, namespace, hosts, http, source: at.file };
}

function importHttpRoute(v: unknown, at: FieldPath, docKey: string, index: number, notes: ImportNotes): HttpRoute {
  const m = obj(v, at);
  noteUnknown(m, at, ['name', 'match', 'route', 'timeout', 'retries', 'fault', 'headers', 'rewrite', 'mirror', 'mirrorPercentage', 'mirror_percent', 'corsPolicy'], notes);
  for (const k of ['mirror', 'mirrorPercentage', 'mirror_percent', 'corsPolicy']) if (m[k] !== undefined) notes.ignored.push(at.key(k).path);
  if (m.redirect !== undefined || m.directResponse !== undefined || m.delegate !== undefined) {
    throw at.error('a route with `route` destinations (redirect, directResponse and delegate are not supported)', Object.keys(m).join(', '));
  }
  const name = typeof m.name === 'string' && m.name ? m.name : String(index);
  const match = list(m.match, at.key('match')).map((x, i) => importMatch(x, at.key('match').index(i), notes));
  const rAt = at.key('route');
  const destinations = list(m.route, rAt, false).map((d, i): WeightedDestination => {
    const p = rAt.index(i);
    const dm = obj(d, p);
    noteUnknown(dm, p, ['destination', 'weight', 'headers'], notes);
    if (dm.headers !== undefined) notes.ignored.push(`${p.key('headers').path} (per-destination header edits)`);
    const dAt = p.key('destination');
    const dest = obj(dm.destination, dAt);
    noteUnknown(dest, dAt, ['host', 'subset', 'port'], notes);
    return {
      host: host(dest.host, dAt.key('host')),
      subset: dest.subset === undefined ? undefined : string(dest.subset, dAt.key('subset')),
      version: undefined,
      // Istio: a single destination may omit weight (100); with several, missing weights are 0.
      weight: dm.weight === undefined ? (Array.isArray(m.route) && m.route.length === 1 ? 100 : 0) : integer(dm.weight, p.key('weight'), 0, 100),
    };
  });
  if (destinations.length === 0) throw rAt.error('at least one destination', m.route);
  if (destinations.every((d) => d.weight === 0)) throw rAt.error('a destination with weight above 0', m.route);
  let retries: HttpRoute['retries'];
  if (m.retries !== undefined) {
    const rtAt = at.key('retries');
    const r = obj(m.retries, rtAt);
    noteUnknown(r, rtAt, ['attempts', 'perTryTimeout', 'retryOn', 'retryRemoteLocalities'], notes);
    // Istio's retryOn uses Envoy's names; map the ones weft knows, note the rest.
    const envoyNames = typeof r.retryOn === 'string' ? r.retryOn.split(',').map((s) => s.trim()).filter(Boolean) : ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'];
    const mapped: string[] = [];
    for (const n of envoyNames) {
      if (n === 'unavailable') mapped.push('503');
      else if (n === 'cancelled' || n === 'retriable-status-codes' || n === 'retriable-headers' || n === 'deadline-exceeded' || n === 'resource-exhausted' || n === 'internal') {
        if (n !== 'cancelled' && n !== 'retriable-status-codes') notes.ignored.push(`${rtAt.key('retryOn').path}: ${n}`);
      } else mapped.push(n);
    }
    const names = retryOnNames(mapped, rtAt.key('retryOn'));
    retries = {
      attempts: integer(r.attempts, rtAt.key('attempts'), 0, 10),
      perTryTimeoutMs: r.perTryTimeout === undefined ? 0 : ms(r.perTryTimeout, rtAt.key('perTryTimeout'), undefined),
      on: retryOn(names.filter((n) => !/^\d+$/.test(n)), names.filter((n) => /^\d+$/.test(n)).map(Number)),
    };
  }
  let fault: FaultPolicy | undefined;
  if (m.fault !== undefined) {
    const fAt = at.key('fault');
    const f = obj(m.fault, fAt);
    noteUnknown(f, fAt, ['delay', 'abort'], notes);
    const out: { delay?: FaultPolicy['delay']; abort?: FaultPolicy['abort'] } = {};
    if (f.delay !== undefined) {
      const dAt = fAt.key('delay');
      const d = obj(f.delay, dAt);
      noteUnknown(d, dAt, ['fixedDelay', 'percentage', 'percent'], notes);
      out.delay = { fraction: istioPercent(d, dAt), ms: ms(d.fixedDelay, dAt.key('fixedDelay'), undefined) };
    }
    if (f.abort !== undefined) {
      const aAt = fAt.key('abort');
      const a = obj(f.abort, aAt);
      noteUnknown(a, aAt, ['httpStatus', 'percentage', 'percent'], notes);
      out.abort = { fraction: istioPercent(a, aAt), status: httpStatus(a.httpStatus, aAt.key('httpStatus')) };
    }
    fault = out;
  }
  let requestHeaders: HttpRoute['requestHeaders'];
  let responseHeaders: HttpRoute['responseHeaders'];
  if (m.headers !== undefined) {
    const hAt = at.key('headers');
    const h = obj(m.headers, hAt);
    noteUnknown(h, hAt, ['request', 'response'], notes);
    if (h.request !== undefined) requestHeaders = headerOps(h.request, hAt.key('request'));
    if (h.response !== undefined) responseHeaders = headerOps(h.response, hAt.key('response'));
  }
  let rewritePath: string | undefined;
  if (m.rewrite !== undefined) {
    const wAt = at.key('rewrite');
    const w = obj(m.rewrite, wAt);
    noteUnknown(w, wAt, ['uri'], notes);
    if (w.uri !== undefined) rewritePath = string(w.uri, wAt.key('uri'));
  }
  return {
    name: `${docKey}/${name}`,
    match,
    destinations,
    timeoutMs: m.timeout === undefined ? undefined : ms(m.timeout, at.key('timeout'), undefined),
    retries,
    fault,
    rateLimit: undefined,
    requestHeaders,
    responseHeaders,
    rewritePath,
  };
}

function importMatch(v: unknown, at: FieldPath, notes: ImportNotes): RequestMatch {
  const m = obj(v, at);
  noteUnknown(m, at, ['uri', 'method', 'headers', 'withoutHeaders', 'port', 'name', 'ignoreUriCase'], notes);
  const headers = [];
  for (const [field, invert] of [['headers', false], ['withoutHeaders', true]] as const) {
    if (m[field] === undefined) continue;
    for (const [k, x] of Object.entries(obj(m[field], at.key(field)))) {
      const hm = headerMatch(k, x, at.key(field).key(k));
      headers.push({ ...hm, invert: invert !== hm.invert });
    }
  }
  let path = m.uri === undefined ? undefined : stringMatch(m.uri, at.key('uri'));
  if (path && m.ignoreUriCase === true) path = { kind: 'regex', value: path.value, re: new RegExp(`^(?:${path.kind === 'regex' ? path.value : escapeRegex(path.value) + (path.kind === 'prefix' ? '.*' : '')})$`, 'i') };
  return {
    ...(path ? { path } : {}),
    ...(m.method !== undefined ? { method: stringMatch(m.method, at.key('method')) } : {}),
    headers,
    ...(m.port !== undefined ? { port: integer(m.port, at.key('port'), 1, 65535) } : {}),
  };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function importDestinationRule(doc: Mapping, at: FieldPath, defaultNamespace: string, notes: ImportNotes): DestinationSpec {
  const { name, namespace } = metadata(doc, at, defaultNamespace);
  const sAt = at.key('spec');
  const spec = obj(doc.spec, sAt);
  noteUnknown(spec, sAt, ['host', 'trafficPolicy', 'subsets', 'exportTo', 'workloadSelector'], notes);
  const subsets = list(spec.subsets, sAt.key('subsets')).map((s, i): SubsetSpec => {
    const p = sAt.key('subsets').index(i);
    const sm = obj(s, p);
    noteUnknown(sm, p, ['name', 'labels', 'trafficPolicy'], notes);
    const labels: Record<string, string> = {};
    for (const [k, x] of Object.entries(sm.labels === undefined ? {} : obj(sm.labels, p.key('labels')))) {
      if (!(SUBSET_LABELS as readonly string[]).includes(k)) throw p.key('labels').key(k).error(`a label weft endpoints have (${SUBSET_LABELS.join(', ')})`, k);
      labels[k] = string(x, p.key('labels').key(k));
    }
    return { name: string(sm.name, p.key('name')), labels, policy: sm.trafficPolicy === undefined ? {} : importTrafficPolicy(sm.trafficPolicy, p.key('trafficPolicy'), notes) };
  });
  return {
    kind: 'destination',
    key: `${namespace}/${name}`,
    namespace,
    host: host(spec.host, sAt.key('host')),
    policy: spec.trafficPolicy === undefined ? {} : importTrafficPolicy(spec.trafficPolicy, sAt.key('trafficPolicy'), notes),
    subsets,
    source: at.file,
  };
}

function importTrafficPolicy(v: unknown, at: FieldPath, notes: ImportNotes): TrafficPolicy {
  const m = obj(v, at);
  noteUnknown(m, at, ['loadBalancer', 'connectionPool', 'outlierDetection'], notes);
  let lb: LbPolicy | undefined;
  if (m.loadBalancer !== undefined) {
    const lAt = at.key('loadBalancer');
    const l = obj(m.loadBalancer, lAt);
    noteUnknown(l, lAt, ['simple', 'consistentHash'], notes);
    if (l.simple !== undefined) {
      const s = string(l.simple, lAt.key('simple'));
      if (s === 'ROUND_ROBIN' || s === 'UNSPECIFIED') lb = { kind: 'round-robin' };
      else if (s === 'LEAST_REQUEST' || s === 'LEAST_CONN') lb = { kind: 'least-request' };
      else if (s === 'RANDOM') lb = { kind: 'random' };
      else if (s === 'PASSTHROUGH') notes.ignored.push(`${lAt.key('simple').path}: PASSTHROUGH`);
      else throw lAt.key('simple').error('ROUND_ROBIN, LEAST_REQUEST, LEAST_CONN, RANDOM or PASSTHROUGH', s);
    } else if (l.consistentHash !== undefined) {
      const cAt = lAt.key('consistentHash');
      const c = obj(l.consistentHash, cAt);
      noteUnknown(c, cAt, ['httpHeaderName', 'useSourceIp', 'maglev', 'minimumRingSize'], notes);
      if (typeof c.httpHeaderName === 'string' && c.httpHeaderName) lb = { kind: 'consistent-hash', on: { kind: 'header', name: c.httpHeaderName.toLowerCase() } };
      else if (c.useSourceIp === true) lb = { kind: 'consistent-hash', on: { kind: 'source' } };
      else throw cAt.error('httpHeaderName or useSourceIp: true (httpCookie and httpQueryParameterName are not supported)', Object.keys(c).join(', '));
    }
  }
  let breaker: Partial<BreakerLimits> | undefined;
  if (m.connectionPool !== undefined) {
    const cAt = at.key('connectionPool');
    const c = obj(m.connectionPool, cAt);
    noteUnknown(c, cAt, ['tcp', 'http'], notes);
    const out: { -readonly [K in keyof BreakerLimits]?: number } = {};
    if (c.tcp !== undefined) {
      const t = obj(c.tcp, cAt.key('tcp'));
      noteUnknown(t, cAt.key('tcp'), ['maxConnections'], notes);
      if (t.maxConnections !== undefined) out.maxConnections = integer(t.maxConnections, cAt.key('tcp').key('maxConnections'), 1, 10_000_000);
    }
    if (c.http !== undefined) {
      const hAt = cAt.key('http');
      const h = obj(c.http, hAt);
      noteUnknown(h, hAt, ['http1MaxPendingRequests', 'http2MaxRequests', 'maxRetries'], notes);
      if (h.http1MaxPendingRequests !== undefined) out.maxPendingRequests = integer(h.http1MaxPendingRequests, hAt.key('http1MaxPendingRequests'), 1, 10_000_000);
      if (h.http2MaxRequests !== undefined) out.maxRequests = integer(h.http2MaxRequests, hAt.key('http2MaxRequests'), 1, 10_000_000);
      if (h.maxRetries !== undefined) out.maxRetries = integer(h.maxRetries, hAt.key('maxRetries'), 1, 10_000_000);
    }
    breaker = out;
  }
  let outlier: Partial<OutlierPolicy> | undefined;
  if (m.outlierDetection !== undefined) {
    const oAt = at.key('outlierDetection');
    const o = obj(m.outlierDetection, oAt);
    noteUnknown(o, oAt, ['consecutive5xxErrors', 'consecutiveGatewayErrors', 'consecutiveErrors', 'interval', 'baseEjectionTime', 'maxEjectionPercent'], notes);
    const out: { -readonly [K in keyof OutlierPolicy]?: number } = {};
    // Istio's defaults apply once the block is present.
    out.consecutive5xx = o.consecutive5xxErrors === undefined ? 5 : integer(o.consecutive5xxErrors, oAt.key('consecutive5xxErrors'), 0, 1_000_000);
    // consecutiveErrors (deprecated) counted 502/503/504: gateway errors.
    const gw = o.consecutiveGatewayErrors ?? o.consecutiveErrors;
    out.consecutiveGatewayErrors = gw === undefined ? 0 : integer(gw, oAt.key(o.consecutiveGatewayErrors !== undefined ? 'consecutiveGatewayErrors' : 'consecutiveErrors'), 0, 1_000_000);
    if (o.consecutiveErrors !== undefined && o.consecutive5xxErrors === undefined) out.consecutive5xx = 0;
    out.intervalMs = o.interval === undefined ? 10_000 : ms(o.interval, oAt.key('interval'), undefined, false);
    out.baseEjectionMs = o.baseEjectionTime === undefined ? 30_000 : ms(o.baseEjectionTime, oAt.key('baseEjectionTime'), undefined, false);
    out.maxEjectionPercent = o.maxEjectionPercent === undefined ? 10 : integer(o.maxEjectionPercent, oAt.key('maxEjectionPercent'), 0, 100);
    outlier = out;
  }
  return { ...(lb ? { lb } : {}), ...(breaker ? { breaker } : {}), ...(outlier ? { outlier } : {}) };
}

// Field readers shared by the route-rule parsers (weft documents, Istio
// imports, the proxy defaults): string matches, percentages, retry, fault,
// rate-limit, load-balancer, circuit-breaker and outlier blocks. Errors name
// the file, the field path and what was expected (WEFT-A001 from the config
// readers; the rule loader re-labels them WEFT-P009).
import { durationMs } from '../../config/duration.js';
import { FieldPath, duration, integer, isMapping, list, mapping, string, type Mapping } from '../../config/fields.js';
import {
  RETRY_ON_NAMES,
  retryOn,
  type BreakerLimits,
  type FaultPolicy,
  type HeaderMatch,
  type HeaderOps,
  type LbPolicy,
  type OutlierPolicy,
  type RateLimitPolicy,
  type RetryPolicy,
  type StringMatch,
} from './model.js';

export function ms(v: unknown, at: FieldPath, fallback: number | undefined, allowZero = true): number {
  return durationMs(duration(v, at, fallback === undefined ? undefined : BigInt(fallback) * 1_000_000n, { allowZero }));
}

/** `{exact|prefix|regex: s}`; a regex must match the whole value. */
export function stringMatch(v: unknown, at: FieldPath): StringMatch {
  const m = mapping(v, at, ['exact', 'prefix', 'regex']);
  const keys = Object.keys(m);
  if (keys.length !== 1) throw at.error('exactly one of exact, prefix, regex', v);
  const kind = keys[0] as 'exact' | 'prefix' | 'regex';
  const value = m[kind];
  if (typeof value !== 'string') throw at.key(kind).error('a string', value);
  if (kind !== 'regex') return { kind, value };
  try {
    return { kind, value, re: new RegExp(`^(?:${value})$`) };
  } catch (e) {
    throw at.key(kind).error(`a valid regular expression (${(e as Error).message})`, value);
  }
}

/** A header condition: a StringMatch, `{present: true}`, with optional `invert: true`. */
export function headerMatch(name: string, v: unknown, at: FieldPath): HeaderMatch {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw at.error('a header name (an HTTP token)', name);
  const m = isMapping(v) ? v : {};
  if (!isMapping(v)) throw at.error('a mapping such as {exact: "x"}', v);
  const invert = m.invert === true;
  const rest: Mapping = { ...m };
  delete rest.invert;
  if (m.invert !== undefined && typeof m.invert !== 'boolean') throw at.key('invert').error('true or false', m.invert);
  // Istio: an empty match `{}` means the header is present.
  if ('present' in rest || Object.keys(rest).length === 0) {
    if (Object.keys(rest).length === 0) return { name: name.toLowerCase(), match: undefined, invert };
    if (rest.present !== true) throw at.key('present').error('true', rest.present);
    return { name: name.toLowerCase(), match: undefined, invert };
  }
  return { name: name.toLowerCase(), match: stringMatch(rest, at), invert };
}

/** A percentage 0..100 (fractions allowed); returns a fraction 0..1. */
export function percent(v: unknown, at: FieldPath): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) throw at.error('a percentage from 0 to 100', v);
  return v / 100;
}

export function httpStatus(v: unknown, at: FieldPath): number {
  return integer(v, at, 200, 599);
}

/** weft form: `{attempts, perTryTimeout, on: [5xx, ...] | "5xx,reset", statusCodes: [...]}`. */
export function retryPolicy(v: unknown, at: FieldPath): RetryPolicy {
  const m = mapping(v, at, ['attempts', 'perTryTimeout', 'on', 'statusCodes']);
  const on = retryOnNames(m.on ?? ['connect-failure', 'refused-stream', 'reset', 'gateway-error'], at.key('on'));
  const codes = list(m.statusCodes, at.key('statusCodes')).map((c, i) => httpStatus(c, at.key('statusCodes').index(i)));
  return {
    attempts: integer(m.attempts, at.key('attempts'), 0, 10, 2),
    perTryTimeoutMs: ms(m.perTryTimeout, at.key('perTryTimeout'), 0),
    on: retryOn(on.filter((n) => !/^\d+$/.test(n)), [...codes, ...on.filter((n) => /^\d+$/.test(n)).map(Number)]),
  };
}

/** A list or comma-separated string of retry conditions; numbers are status codes. */
export function retryOnNames(v: unknown, at: FieldPath): string[] {
  const names = typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : list(v, at).map((x, i) => string(x, at.index(i)));
  for (const n of names) {
    if (!(RETRY_ON_NAMES as readonly string[]).includes(n) && !/^[1-5]\d\d$/.test(n)) {
      throw at.error(`retry conditions from ${RETRY_ON_NAMES.join(', ')} or status codes`, n);
    }
  }
  return names;
}

/** weft form: `{delay: {percent, duration}, abort: {percent, status}}`. */
export function faultPolicy(v: unknown, at: FieldPath): FaultPolicy {
  const m = mapping(v, at, ['delay', 'abort']);
  const out: { delay?: FaultPolicy['delay']; abort?: FaultPolicy['abort'] } = {};
  if (m.delay !== undefined) {
    const dAt = at.key('delay');
    const d = mapping(m.delay, dAt, ['percent', 'duration']);
    out.delay = { fraction: percent(d.percent, dAt.key('percent')), ms: ms(d.duration, dAt.key('duration'), undefined) };
  }
  if (m.abort !== undefined) {
    const aAt = at.key('abort');
    const a = mapping(m.abort, aAt, ['percent', 'status']);
    out.abort = { fraction: percent(a.percent, aAt.key('percent')), status: httpStatus(a.status, aAt.key('status')) };
  }
  return out;
}

/** `{requests, window, key: route | source | header:<name>}`. */
export function rateLimitPolicy(v: unknown, at: FieldPath): RateLimitPolicy {
  const m = mapping(v, at, ['requests', 'window', 'key']);
  const keyText = string(m.key, at.key('key'), 'route');
  let key: RateLimitPolicy['key'];
  if (keyText === 'route') key = { kind: 'route' };
  else if (keyText === 'source') key = { kind: 'source' };
  else if (/^header:[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(keyText)) key = { kind: 'header', name: keyText.slice(7).toLowerCase() };
  else throw at.key('key').error('route, source or header:<name>', keyText);
  const windowMs = ms(m.window, at.key('window'), 1000, false);
  if (windowMs % 10 !== 0) throw at.key('window').error('a whole multiple of 10ms', m.window);
  return { limit: integer(m.requests, at.key('requests'), 1, 1_000_000_000), windowMs, key };
}

/** `round-robin | least-request | random | {consistentHash: {header: x} | {source: true}}`. */
export function lbPolicy(v: unknown, at: FieldPath): LbPolicy {
  if (v === 'round-robin' || v === 'least-request' || v === 'random') return { kind: v };
  if (isMapping(v)) {
    const m = mapping(v, at, ['consistentHash']);
    const hAt = at.key('consistentHash');
    const h = mapping(m.consistentHash, hAt, ['header', 'source']);
    if (typeof h.header === 'string' && h.header !== '' && h.source === undefined) return { kind: 'consistent-hash', on: { kind: 'header', name: h.header.toLowerCase() } };
    if (h.source === true && h.header === undefined) return { kind: 'consistent-hash', on: { kind: 'source' } };
    throw hAt.error('either {header: <name>} or {source: true}', m.consistentHash);
  }
  throw at.error('round-robin, least-request, random or {consistentHash: {header: <name>}}', v);
}

export function breakerLimits(v: unknown, at: FieldPath): Partial<BreakerLimits> {
  const m = mapping(v, at, ['maxConnections', 'maxPendingRequests', 'maxRequests', 'maxRetries']);
  const out: { -readonly [K in keyof BreakerLimits]?: number } = {};
  for (const k of ['maxConnections', 'maxPendingRequests', 'maxRequests', 'maxRetries'] as const) {
    if (m[k] !== undefined) out[k] = integer(m[k], at.key(k), 1, 10_000_000);
  }
  return out;
}

export function outlierPolicy(v: unknown, at: FieldPath): Partial<OutlierPolicy> {
  const m = mapping(v, at, ['consecutive5xx', 'consecutiveGatewayErrors', 'interval', 'baseEjectionTime', 'maxEjectionPercent']);
  const out: { -readonly [K in keyof OutlierPolicy]?: number } = {};
  if (m.consecutive5xx !== undefined) out.consecutive5xx = integer(m.consecutive5xx, at.key('consecutive5xx'), 0, 1_000_000);
  if (m.consecutiveGatewayErrors !== undefined) out.consecutiveGatewayErrors = integer(m.consecutiveGatewayErrors, at.key('consecutiveGatewayErrors'), 0, 1_000_000);
  if (m.interval !== undefined) out.intervalMs = ms(m.interval, at.key('interval'), undefined, false);
  if (m.baseEjectionTime !== undefined) out.baseEjectionMs = ms(m.baseEjectionTime, at.key('baseEjectionTime'), undefined, false);
  if (m.maxEjectionPercent !== undefined) out.maxEjectionPercent = integer(m.maxEjectionPercent, at.key('maxEjectionPercent'), 0, 100);
  return out;
}

/** `{set: {h: v}, add: {h: v}, remove: [h]}`. */
export function headerOps(v: unknown, at: FieldPath): HeaderOps {
  const m = mapping(v, at, ['set', 'add', 'remove']);
  const pairs = (x: unknown, p: FieldPath): [string, string][] => {
    if (x === undefined) return [];
    const mm = mapping(x, p, Object.keys(isMapping(x) ? x : {}));
    return Object.entries(mm).map(([k, val]) => [k.toLowerCase(), string(String(val), p.key(k))]);
  };
  return {
    set: pairs(m.set, at.key('set')),
    add: pairs(m.add, at.key('add')),
    remove: list(m.remove, at.key('remove')).map((h, i) => string(h, at.key('remove').index(i)).toLowerCase()),
  };
}

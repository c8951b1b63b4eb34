// The `proxy:` section of the agent config, and the CLI flags that override it
// (`--mode sidecar|per-host`, `--service-ports rest:8080,grpc:9000`,
// `--proxy-port N`). Without the section and without flags the proxy is off.
// Every field has a default; docs/proxy.md lists them.
import { resolve } from 'node:path';
import { durationMs } from '../config/duration.js';
import { FieldPath, boolean, dnsLabel, duration, integer, isMapping, list, mapping, string } from '../config/fields.js';
import { WeftError } from '../errors.js';
import { breakerLimits, lbPolicy, ms, outlierPolicy, retryPolicy } from './rules/fields.js';
import { retryOn, type BreakerLimits, type LbPolicy, type OutlierPolicy, type RetryPolicy } from './rules/model.js';

export type ProxyMode = 'sidecar' | 'per-host';

export interface HealthCheckSpec {
  /** Service ID of the local service. */
  readonly service: string;
  /** One instance, or every local instance of the service. */
  readonly instance: string | undefined;
  readonly type: 'rest' | 'tcp';
  /** TCP port on `host`; undefined = the instance's server socket (or its --service-ports port). */
  readonly port: number | undefined;
  readonly host: string;
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Accepted status codes, e.g. [200] or 200..299. */
  readonly expectStatus: { readonly min: number; readonly max: number }[];
  /** A substring the body must contain. */
  readonly expectBody: string | undefined;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
}

export interface ProxyConfig {
  readonly enabled: boolean;
  readonly mode: ProxyMode;
  readonly host: string;
  readonly port: number;
  /** Namespace of short names (sidecar default: the local meshlet's). */
  readonly namespace: string | undefined;
  /** Sidecar: `<meshlet>.<ns>` of the local app (default: the only meshlet). */
  readonly meshlet: string | undefined;
  /** Service name → the local app's port (sidecar delivery; port → service for short names). */
  readonly servicePorts: ReadonlyMap<string, number>;
  readonly clusterDomains: readonly string[];
  readonly rules: { readonly paths: readonly string[]; readonly watch: boolean; readonly debounceMs: number };
  /** 'stdout', 'off', or an absolute file path. */
  readonly accessLog: string;
  /** HTTP/1.1 requests take the fast path (raw sockets, own parser) when it accepts them; false: always node:http. */
  readonly fastPath: boolean;
  readonly limits: {
    readonly maxHeaderBytes: number;
    readonly maxClientConnections: number;
    /** Request bodies up to this size are kept for retries; larger ones are not retried. */
    readonly retryBufferBytes: number;
  };
  readonly timeouts: {
    /** Default route timeout (whole request, retries included); 0 = none. */
    readonly requestMs: number;
    readonly connectMs: number;
    /** Idle keep-alive of client connections. */
    readonly clientIdleMs: number;
    /** Time to receive a whole request head. */
    readonly headersMs: number;
    /** Idle pooled upstream connections are closed after this. */
    readonly upstreamIdleMs: number;
  };
  readonly loadBalancer: LbPolicy;
  readonly circuitBreaker: BreakerLimits;
  readonly outlierDetection: OutlierPolicy;
  readonly retries: RetryPolicy;
  readonly retryBudget: { readonly percent: number; readonly minConcurrency: number };
  readonly ewma: { readonly decayMs: number; readonly defaultRttMs: number };
  readonly healthChecks: readonly HealthCheckSpec[];
}

export const DEFAULT_PROXY_PORT = 30101;

const FIELDS = [
  'enabled', 'mode', 'host', 'port', 'namespace', 'meshlet', 'servicePorts', 'clusterDomains', 'rules', 'accessLog', 'fastPath', 'limits', 'timeouts',
  'loadBalancer', 'circuitBreaker', 'outlierDetection', 'retries', 'retryBudget', 'healthChecks',
] as const;

/** `rest:8080,grpc:9000` → Map. */
export function parseServicePorts(text: string, at?: FieldPath): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?):(\d{1,5})$/.exec(part);
    const port = m ? Number(m[3]) : 0;
    if (!m || port < 1 || port > 65535 || out.has(m[1]!)) {
      const msg = `expected <service>:<port>[,<service>:<port>...] with distinct service names and ports 1..65535, got ${JSON.stringify(part)}`;
      if (at) throw at.error('<service>:<port> pairs such as "rest:8080,grpc:9000"', text);
      throw new WeftError('WEFT-A001', `--service-ports: ${msg}`, { field: 'service-ports' });
    }
    out.set(m[1]!, port);
  }
  return out;
}

function statusRanges(v: unknown, at: FieldPath): { min: number; max: number }[] {
  const items = v === undefined ? ['2xx'] : Array.isArray(v) ? v : [v];
  return items.map((x, i) => {
    const p = Array.isArray(v) ? at.index(i) : at;
    if (typeof x === 'number' && Number.isInteger(x) && x >= 100 && x <= 599) return { min: x, max: x };
    if (typeof x === 'string' && /^[1-5]xx$/.test(x)) return { min: Number(x[0]) * 100, max: Number(x[0]) * 100 + 99 };
    throw p.error('a status code (200) or class ("2xx"), or a list of them', x);
  });
}

function healthCheck(v: unknown, at: FieldPath): HealthCheckSpec {
  const m = mapping(v, at, ['service', 'instance', 'type', 'port', 'host', 'path', 'interval', 'timeout', 'expectStatus', 'expectBody', 'unhealthyThreshold', 'healthyThreshold']);
  const service = string(m.service, at.key('service'));
  if (service.split('.').length !== 3) throw at.key('service').error('a service ID <service>.<meshlet>.<ns>', service);
  const type = string(m.type, at.key('type'), 'rest');
  if (type !== 'rest' && type !== 'tcp') throw at.key('type').error('rest or tcp', type);
  const path = string(m.path, at.key('path'), '/');
  if (!path.startsWith('/')) throw at.key('path').error('a path starting with /', path);
  return {
    service,
    instance: m.instance === undefined ? undefined : string(m.instance, at.key('instance')),
    type,
    port: m.port === undefined ? undefined : integer(m.port, at.key('port'), 1, 65535),
    host: string(m.host, at.key('host'), '127.0.0.1'),
    path,
    intervalMs: ms(m.interval, at.key('interval'), 5000, false),
    timeoutMs: ms(m.timeout, at.key('timeout'), 1000, false),
    expectStatus: statusRanges(m.expectStatus, at.key('expectStatus')),
    expectBody: m.expectBody === undefined ? undefined : String(m.expectBody),
    unhealthyThreshold: integer(m.unhealthyThreshold, at.key('unhealthyThreshold'), 1, 100, 2),
    healthyThreshold: integer(m.healthyThreshold, at.key('healthyThreshold'), 1, 100, 1),
  };
}

export const DEFAULT_BREAKER: BreakerLimits = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 };
export const DEFAULT_OUTLIER: OutlierPolicy = { consecutive5xx: 5, consecutiveGatewayErrors: 0, intervalMs: 10_000, baseEjectionMs: 30_000, maxEjectionPercent: 10 };
export const DEFAULT_RETRIES: RetryPolicy = { attempts: 2, perTryTimeoutMs: 0, on: retryOn(['connect-failure', 'refused-stream']) };

/** Parses the `proxy:` section (undefined → disabled with defaults). `baseDir` resolves rule paths. */
export function parseProxyConfig(v: unknown, at: FieldPath, baseDir: string): ProxyConfig {
  const present = v !== undefined && v !== null;
  const m = present ? mapping(v, at, FIELDS) : {};
  const mode = string(m.mode, at.key('mode'), 'per-host');
  if (mode !== 'per-host' && mode !== 'sidecar') throw at.key('mode').error('per-host or sidecar', mode);
  let servicePorts = new Map<string, number>();
  if (typeof m.servicePorts === 'string') servicePorts = parseServicePorts(m.servicePorts, at.key('servicePorts'));
  else if (m.servicePorts !== undefined) {
    for (const [k, p] of Object.entries(mapping(m.servicePorts, at.key('servicePorts'), Object.keys(isMapping(m.servicePorts) ? m.servicePorts : {})))) {
      servicePorts.set(dnsLabel(k, at.key('servicePorts').key(k)), integer(p, at.key('servicePorts').key(k), 1, 65535));
    }
  }
  const rAt = at.key('rules');
  const r = m.rules === undefined ? {} : mapping(m.rules, rAt, ['paths', 'watch', 'debounce']);
  const lAt = at.key('limits');
  const l = m.limits === undefined ? {} : mapping(m.limits, lAt, ['maxHeaderBytes', 'maxClientConnections', 'retryBufferBytes']);
  const tAt = at.key('timeouts');
  const t = m.timeouts === undefined ? {} : mapping(m.timeouts, tAt, ['request', 'connect', 'clientIdle', 'headers', 'upstreamIdle']);
  const bAt = at.key('retryBudget');
  const b = m.retryBudget === undefined ? {} : mapping(m.retryBudget, bAt, ['percent', 'minConcurrency']);
  const accessLog = string(m.accessLog, at.key('accessLog'), 'stdout');
  return {
    enabled: boolean(m.enabled, at.key('enabled'), present),
    mode,
    host: string(m.host, at.key('host'), '127.0.0.1'),
    port: integer(m.port, at.key('port'), 0, 65535, DEFAULT_PROXY_PORT),
    namespace: m.namespace === undefined ? undefined : dnsLabel(m.namespace, at.key('namespace')),
    meshlet: m.meshlet === undefined ? undefined : string(m.meshlet, at.key('meshlet')),
    servicePorts,
    clusterDomains: list(m.clusterDomains ?? ['svc.cluster.local', 'svc'], at.key('clusterDomains')).map((d, i) => string(d, at.key('clusterDomains').index(i))),
    rules: {
      paths: list(r.paths, rAt.key('paths')).map((p, i) => resolve(baseDir, string(p, rAt.key('paths').index(i)))),
      watch: boolean(r.watch, rAt.key('watch'), true),
      debounceMs: durationMs(duration(r.debounce, rAt.key('debounce'), 200_000_000n, { allowZero: true })),
    },
    fastPath: boolean(m.fastPath, at.key('fastPath'), true),
    accessLog: accessLog === 'stdout' || accessLog === 'off' ? accessLog : resolve(baseDir, accessLog),
    limits: {
      maxHeaderBytes: integer(l.maxHeaderBytes, lAt.key('maxHeaderBytes'), 1024, 1 << 20, 16 * 1024),
      maxClientConnections: integer(l.maxClientConnections, lAt.key('maxClientConnections'), 1, 10_000_000, 10_000),
      retryBufferBytes: integer(l.retryBufferBytes, lAt.key('retryBufferBytes'), 0, 1 << 30, 64 * 1024),
    },
    timeouts: {
      requestMs: ms(t.request, tAt.key('request'), 15_000),
      connectMs: ms(t.connect, tAt.key('connect'), 2_000, false),
      clientIdleMs: ms(t.clientIdle, tAt.key('clientIdle'), 60_000),
      headersMs: ms(t.headers, tAt.key('headers'), 10_000, false),
      upstreamIdleMs: ms(t.upstreamIdle, tAt.key('upstreamIdle'), 30_000, false),
    },
    loadBalancer: m.loadBalancer === undefined ? { kind: 'least-request' } : lbPolicy(m.loadBalancer, at.key('loadBalancer')),
    circuitBreaker: { ...DEFAULT_BREAKER, ...(m.circuitBreaker === undefined ? {} : breakerLimits(m.circuitBreaker, at.key('circuitBreaker'))) },
    outlierDetection: { ...DEFAULT_OUTLIER, ...(m.outlierDetection === undefined ? {} : outlierPolicy(m.outlierDetection, at.key('outlierDetection'))) },
    retries: m.retries === undefined ? DEFAULT_RETRIES : retryPolicy(m.retries, at.key('retries')),
    retryBudget: {
      percent: integer(b.percent, bAt.key('percent'), 0, 100, 20),
      minConcurrency: integer(b.minConcurrency, bAt.key('minConcurrency'), 0, 1_000_000, 3),
    },
    ewma: { decayMs: 10_000, defaultRttMs: 30 },
    healthChecks: list(m.healthChecks, at.key('healthChecks')).map((h, i) => healthCheck(h, at.key('healthChecks').index(i))),
  };
}

export interface ProxyFlags {
  mode?: string | undefined;
  servicePorts?: string | undefined;
  proxyPort?: string | undefined;
}

/** The CLI flags over the file's section; any flag turns the proxy on. */
export function applyProxyFlags(config: ProxyConfig, flags: ProxyFlags): ProxyConfig {
  if (flags.mode === undefined && flags.servicePorts === undefined && flags.proxyPort === undefined) return config;
  const mode = flags.mode ?? config.mode;
  if (mode !== 'sidecar' && mode !== 'per-host') throw new WeftError('WEFT-A001', `--mode: expected sidecar or per-host, got ${JSON.stringify(mode)}`, { field: 'mode' });
  let port = config.port;
  if (flags.proxyPort !== undefined) {
    port = Number(flags.proxyPort);
    if (!/^\d{1,5}$/.test(flags.proxyPort) || port > 65535) throw new WeftError('WEFT-A001', `--proxy-port: expected 0..65535, got ${JSON.stringify(flags.proxyPort)}`, { field: 'proxy-port' });
  }
  return {
    ...config,
    enabled: true,
    mode,
    port,
    servicePorts: flags.servicePorts === undefined ? config.servicePorts : parseServicePorts(flags.servicePorts),
  };
}

// The proxy's Prometheus metrics, registered in the agent's MetricsRegistry (so
// they appear on the admin /metrics). Per request the hot path touches children
// cached per route/service (RouteStats) and per endpoint (UpstreamStats), not
// label lookups.
import type { CounterChild, HistogramChild, MetricsRegistry } from '../admin/metrics.js';

export const PROXY_LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function statusClass(status: number): string {
  return status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : status >= 200 ? '2xx' : '1xx';
}

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export class RouteStats {
  readonly byClass: CounterChild[];
  readonly latency: HistogramChild;
  constructor(m: ProxyMetrics, route: string, service: string) {
    this.byClass = CLASSES.map((c) => m.requests.labels({ route, service, code_class: c }));
    this.latency = m.requestSeconds.labels({ route, service });
  }
  record(status: number, seconds: number): void {
    this.byClass[Math.min(4, Math.max(0, Math.floor(status / 100) - 1))]!.inc();
    this.latency.observe(seconds);
  }
}

export class UpstreamStats {
  readonly byClass: CounterChild[];
  readonly failures: CounterChild;
  readonly latency: HistogramChild;
  constructor(m: ProxyMetrics, service: string, endpoint: string, version: string) {
    this.byClass = CLASSES.map((c) => m.upstreamRequests.labels({ service, endpoint, version, code_class: c }));
    this.failures = m.upstreamFailures.labels({ service, endpoint, version });
    this.latency = m.upstreamSeconds.labels({ service, endpoint });
  }
  record(status: number, seconds: number): void {
    this.byClass[Math.min(4, Math.max(0, Math.floor(status / 100) - 1))]!.inc();
    this.latency.observe(seconds);
  }
}

export class ProxyMetrics {
  readonly requests;
  readonly requestSeconds;
  readonly upstreamRequests;
  readonly upstreamFailures;
  readonly upstreamSeconds;
  readonly retries;
  readonly timeouts;
  readonly overflow;
  readonly ejections;
  readonly ejected;
  readonly rateLimited;
  readonly faults;
  readonly badRequests;
  readonly health;
  readonly healthChecks;
  readonly tunnelsActive;
  readonly tunnels;
  readonly rulesReloads;
  readonly clientConnections;
  readonly activeRequests;
  readonly fastPathFallbacks;

  constructor(readonly registry: MetricsRegistry) {
    const r = registry;
    this.requests = r.counter('weft_proxy_requests_total', 'Requests answered by the sidecar proxy, by route, destination service and status class.', ['route', 'service', 'code_class']);
    this.requestSeconds = r.histogram('weft_proxy_request_duration_seconds', 'From request head received to response finished, retries included.', ['route', 'service'], PROXY_LATENCY_BUCKETS);
    this.upstreamRequests = r.counter('weft_proxy_upstream_requests_total', 'Attempts that got a response from an endpoint, by status class.', ['service', 'endpoint', 'version', 'code_class']);
    this.upstreamFailures = r.counter('weft_proxy_upstream_failures_total', 'Attempts that got no response: connect failure, reset or timeout.', ['service', 'endpoint', 'version']);
    this.upstreamSeconds = r.histogram('weft_proxy_upstream_duration_seconds', 'One attempt, request sent to response head.', ['service', 'endpoint'], PROXY_LATENCY_BUCKETS);
    this.retries = r.counter('weft_proxy_retries_total', 'Retries sent, by service.', ['service']);
    this.timeouts = r.counter('weft_proxy_timeouts_total', 'Requests answered 504 by the route timeout.', ['route', 'service']);
    this.overflow = r.counter('weft_proxy_circuit_open_total', 'Requests refused (503) by a circuit-breaker limit.', ['service', 'limit']);
    this.ejections = r.counter('weft_proxy_outlier_ejections_total', 'Endpoints ejected by outlier detection.', ['service', 'endpoint']);
    this.ejected = r.gauge('weft_proxy_outlier_ejected', '1 while the endpoint is ejected.', ['service', 'endpoint']);
    this.rateLimited = r.counter('weft_proxy_rate_limited_total', 'Requests refused (429) by a route rate limit.', ['route']);
    this.faults = r.counter('weft_proxy_faults_total', 'Faults injected, by route and kind (delay, abort).', ['route', 'kind']);
    this.badRequests = r.counter('weft_proxy_bad_requests_total', 'Malformed requests refused with 400, by reason.', ['reason']);
    this.health = r.gauge('weft_proxy_health', 'Local health-check state: 1 UP, 0 DOWN.', ['service', 'instance']);
    this.healthChecks = r.counter('weft_proxy_health_checks_total', 'Health checks run, by result.', ['service', 'instance', 'result']);
    this.tunnelsActive = r.gauge('weft_proxy_connect_tunnels_active', 'CONNECT tunnels open now.');
    this.tunnels = r.counter('weft_proxy_connect_tunnels_total', 'CONNECT requests, by result (ok, refused, failed).', ['result']);
    this.rulesReloads = r.counter('weft_proxy_rules_reloads_total', 'Route-rule loads, by result.', ['result']);
    this.clientConnections = r.gauge('weft_proxy_client_connections', 'Client connections open on the proxy listener.');
    this.fastPathFallbacks = r.counter('weft_proxy_fast_path_fallbacks_total', 'HTTP/1 connections the fast path handed to the full path (a request its strict parser declined).');
    this.activeRequests = r.gauge('weft_proxy_requests_active', 'Requests in flight through the proxy.');
  }
}

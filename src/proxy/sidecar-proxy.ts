// The sidecar HTTP proxy: one listener (default 127.0.0.1:30101) taking
// HTTP/1.1 in origin or absolute form (http_proxy clients), CONNECT tunnels,
// and h2c with prior knowledge on the same port (the first bytes decide). For
// each request: destination from the authority (pluggable resolver per
// protocol), route rules, rate limit, fault, weighted destination, cluster,
// load-balanced endpoint, retries and timeouts, outlier detection, access log,
// metrics and trace headers. Endpoints are the agent's own and, with the gossip
// catalog and a tunnel upstream wired in, other agents'.
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { hostname } from 'node:os';
import type { MetricsRegistry } from '../admin/metrics.js';
import type { Logger } from '../agent/log.js';
import { ReloadWatcher } from '../agent/reload-watcher.js';
import type { ServiceRouter } from '../agent/routing.js';
import type { ClientIdentity, Upstream } from '../agent/upstream.js';
import { WeftError } from '../errors.js';
import type { SharedValues } from '../gossip/shared-values.js';
import { ServiceTable } from '../kernel/service-table.js';
import { AccessLog, isoNow, type AccessLogSink, type AccessRecord } from './access-log.js';
import { flowHash } from './balancer.js';
import { ServiceState, UpstreamCluster, selectorKey, type SubsetSelector } from './cluster.js';
import type { ProxyConfig } from './config.js';
import { handleConnect } from './connect-tunnel.js';
import { Deadlines } from './deadlines.js';
import { ProxyDelivery, type MeshUpstream } from './delivery.js';
import { EndpointDirectory, LocalHealth, type CatalogView } from './endpoints.js';
import { proxyError, rawErrorResponse, type ProxyErrorReply } from './error-response.js';
import { forwardH2 } from './forward-h2.js';
import { FastConnection } from './fast-http1.js';
import { forwardHttp1 } from './forward-http1.js';
import { HealthChecker, type HealthReporter } from './health-check.js';
import { PrependedStream, isH2Preface } from './protocol-sniff.js';
import { ProxyMetrics, RouteStats, UpstreamStats } from './proxy-metrics.js';
import { RouteRateLimits, soloSharedValues, systemClock } from './rate-limit.js';
import { MeshHostResolver, splitHostPort, type DestinationResolver, type ProxyProtocol } from './resolver.js';
import { clientErrorReason, type BadRequestReason } from './request-guard.js';
import { loadRules, type LoadedRules } from './rules/load.js';
import type { HttpRoute, RetryPolicy } from './rules/model.js';
import { RuleSet, type RequestView } from './rules/rule-set.js';
import type { TraceContext } from './trace.js';

export interface SidecarProxyOptions {
  config: ProxyConfig;
  /** The agent's routes (local endpoints). */
  router: ServiceRouter;
  /** The agent's delivery to local endpoints. */
  upstream: Upstream;
  /** Delivery to endpoints on other agents (a tunnel). Without it only local endpoints are used. */
  remote?: MeshUpstream | undefined;
  /** The gossip catalog (remote endpoints and their health). */
  catalog?: CatalogView | undefined;
  /** Where local health marks go (the gossip catalog implements it). */
  healthReporter?: HealthReporter | undefined;
  /** Gossip shared values for cluster-wide rate limits (else this agent alone). */
  shared?: SharedValues | undefined;
  registry: MetricsRegistry;
  log: Logger;
  /** Access control (sidecar: the local meshlet's uses). */
  allows?: ((serviceId: string) => boolean) | undefined;
  /** Who the proxy's connections are from, for the upstream (sidecar: the local meshlet); a function is read at start(). */
  identity?: ClientIdentity | (() => ClientIdentity | undefined) | undefined;
  /** Namespace of short names when config.namespace is unset; a function is read at start(). */
  namespace?: string | (() => string | undefined) | undefined;
  /** Resolvers per protocol (default MeshHostResolver for all). */
  resolvers?: Partial<Record<ProxyProtocol, DestinationResolver>>;
  /** Access-log sink override (tests). */
  accessLogSink?: AccessLogSink;
}

/** One request as the forwarders see it. */
export interface RequestContext {
  readonly protocol: AccessRecord['protocol'];
  readonly start: number;
  readonly method: string;
  readonly authority: string;
  readonly path: string;
  readonly port: number | undefined;
  /** The app port for sidecar delivery: X-Forwarded-Port if the request carries one, else the port in the authority. */
  readonly deliveryPort: number | undefined;
  readonly requestId: string;
  readonly trace: TraceContext;
  readonly client: string | undefined;
}

/** Where a request goes and under which policies. */
export interface Decision {
  readonly serviceId: string;
  readonly route: HttpRoute | undefined;
  readonly routeName: string;
  readonly stats: RouteStats;
  readonly cluster: UpstreamCluster;
  readonly timeoutMs: number;
  readonly retries: RetryPolicy;
  readonly delayMs: number;
  readonly hash: number | undefined;
}

const DEFAULT_ROUTE = 'default';
const ALL: SubsetSelector = { kind: 'all' };

export class SidecarProxy {
  readonly config: ProxyConfig;
  readonly metrics: ProxyMetrics;
  readonly log: Logger;
  readonly accessLog: AccessLog;
  readonly directory: EndpointDirectory;
  readonly health = new LocalHealth();
  readonly delivery: ProxyDelivery;
  #identity: ClientIdentity;
  #namespace: string;
  readonly #lateIdentity: (() => ClientIdentity | undefined) | undefined;
  readonly #lateNamespace: (() => string | undefined) | undefined;
  readonly #resolvers: Record<ProxyProtocol, DestinationResolver>;
  readonly #hostResolver: MeshHostResolver;
  readonly #resolved = new Map<string, { readonly serviceId: string; readonly port: number | undefined }>();
  #resolvedGen = -1;
  readonly #allows: ((serviceId: string) => boolean) | undefined;
  readonly #table: ServiceTable;
  readonly #services = new Map<string, ServiceState>();
  readonly #clusters = new Map<string, UpstreamCluster>();
  readonly #routeStats = new Map<string, Map<string, RouteStats>>();
  readonly #upstreamStats = new Map<string, Map<string, Map<string, UpstreamStats>>>();
  /** Clusters of whole services (no subset), by service ID: the common case without a joined key. */
  readonly #wholeClusters = new Map<string, UpstreamCluster>();
  readonly #rateLimits: RouteRateLimits;
  readonly #checker: HealthChecker;
  readonly #sockets = new Set<Socket>();
  /** Route timeouts of fast-path requests. */
  readonly deadlines = new Deadlines();
  /** Client connections on the HTTP/1 fast path. */
  readonly fastConnections = new Set<FastConnection>();
  #rules: RuleSet;
  #rulesGen = 0;
  #watcher: ReloadWatcher | undefined;
  #net: NetServer | undefined;
  #http: HttpServer;
  #h2: Http2Server;
  #active = 0;
  #idle: (() => void) | undefined;
  #url = '';

  constructor(options: SidecarProxyOptions) {
    this.config = options.config;
    this.log = options.log;
    this.metrics = new ProxyMetrics(options.registry);
    this.accessLog = new AccessLog(options.accessLogSink ?? options.config.accessLog);
    this.#lateNamespace = typeof options.namespace === 'function' ? options.namespace : undefined;
    this.#lateIdentity = typeof options.identity === 'function' ? options.identity : undefined;
    this.#namespace = options.config.namespace ?? (typeof options.namespace === 'string' ? options.namespace : undefined) ?? 'default';
    this.#identity = (typeof options.identity === 'object' ? options.identity : undefined) ?? { namespace: this.#namespace, meshlet: 'http-proxy', instance: hostname() };
    this.#allows = options.allows;
    this.delivery = new ProxyDelivery({
      local: options.upstream,
      remote: options.remote,
      ...(options.config.mode === 'sidecar' ? { servicePorts: options.config.servicePorts, portFromRequest: true } : {}),
    });
    this.directory = new EndpointDirectory({ router: options.router, health: this.health, ...(options.catalog ? { catalog: options.catalog } : {}), remoteReachable: this.delivery.remoteReachable });
    const hostResolver = new MeshHostResolver({ directory: this.directory, servicePorts: options.config.servicePorts, clusterDomains: options.config.clusterDomains });
    this.#hostResolver = hostResolver;
    this.#resolvers = { http: hostResolver, connect: hostResolver, h2: hostResolver, ...options.resolvers };
    this.#rules = new RuleSet([], [], this.#resolvers.http, this.directory);
    this.#table = new ServiceTable({ capacity: 1024 });
    const clock = systemClock();
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.#rateLimits = new RouteRateLimits(options.shared ?? soloSharedValues(clock), clock);
    this.#checker = new HealthChecker({
      specs: options.config.healthChecks,
      directory: this.directory,
      delivery: this.delivery,
      health: this.health,
      reporter: options.healthReporter,
      metrics: this.metrics,
      log: this.log,
      source: { get namespace() { return self.identity.namespace; }, get meshlet() { return self.identity.meshlet; }, get instance() { return self.identity.instance; } },
    });
    this.#http = createHttpServer(
      {
        maxHeaderSize: options.config.limits.maxHeaderBytes,
        insecureHTTPParser: false,
        // The guard answers a missing Host itself, with the structured error.
        requireHostHeader: false,
        keepAliveTimeout: options.config.timeouts.clientIdleMs,
        headersTimeout: options.config.timeouts.headersMs,
        requestTimeout: 0,
      },
      (req, res) => this.#onHttp1(req, res),
    );
    this.#http.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => handleConnect(this, req, socket, head));
    this.#http.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.#onClientError(err, socket));
    this.#h2 = createH2Server({ maxSessionMemory: 64, settings: { enableConnectProtocol: false } });
    this.#h2.on('stream', (stream, headers) => forwardH2(this, stream, headers));
    this.#h2.on('sessionError', () => undefined);
    this.metrics.registry.addCollector(() => {
      this.metrics.activeRequests.set(this.#active);
      this.metrics.clientConnections.set(this.#sockets.size);
    });
  }

  get url(): string {
    return this.#url;
  }

  /** Namespace of short names. */
  get namespace(): string {
    return this.#namespace;
  }

  /** Who the proxy's upstream connections are from. */
  get identity(): ClientIdentity {
    return this.#identity;
  }

  get rules(): RuleSet {
    return this.#rules;
  }

  /** Loads the rules (a bad file is fatal here), listens, starts health checks and the rules watcher. */
  async start(): Promise<void> {
    if (this.config.namespace === undefined) this.#namespace = this.#lateNamespace?.() ?? this.#namespace;
    this.#identity = this.#lateIdentity?.() ?? this.#identity;
    if (this.config.rules.paths.length) {
      this.#install(loadRules(this.config.rules.paths, this.namespace));
      if (this.config.rules.watch) this.#watcher = new ReloadWatcher(this.config.rules.paths, this.config.rules.debounceMs, () => this.reloadRules('file change'), this.log);
    }
    const server = createNetServer({ pauseOnConnect: false, noDelay: true }, (socket) => this.#onConnection(socket));
    server.maxConnections = this.config.limits.maxClientConnections;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(new WeftError('WEFT-P010', `${this.config.host}:${this.config.port}: ${e.code ?? e.message}`, { host: this.config.host, port: this.config.port })));
      server.listen(this.config.port, this.config.host, () => resolve());
    });
    this.#net = server;
    const addr = server.address() as AddressInfo;
    this.#url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
    this.#checker.start();
  }

  /** Re-reads the rule files; a bad file is logged and the running rules stay. */
  reloadRules(trigger: string): boolean {
    try {
      const loaded = loadRules(this.config.rules.paths, this.namespace);
      this.#install(loaded);
      this.log.info('proxy rules reloaded', { trigger, routes: loaded.routes.length, destinations: loaded.destinations.length });
      return true;
    } catch (e) {
      this.metrics.rulesReloads.inc({ result: 'error' });
      this.log.error('proxy rules rejected; running rules unchanged', { trigger, error: e as Error });
      return false;
    }
  }

  /** Replaces the rules (also for rules built in code, e.g. an Istio import). */
  #install(loaded: Pick<LoadedRules, 'routes' | 'destinations' | 'ignored'>): void {
    this.#rules = new RuleSet(loaded.routes, loaded.destinations, this.#resolvers.http, this.directory);
    this.#rulesGen++;
    this.metrics.rulesReloads.inc({ result: 'ok' });
    for (const f of loaded.ignored) this.log.warn('route rule field not supported; ignored', { field: f });
  }

  setRules(loaded: Pick<LoadedRules, 'routes' | 'destinations'> & { ignored?: readonly string[] }): void {
    this.#install({ ignored: [], ...loaded });
  }

  /** The agent calls this after a meshlet reload. */
  topologyChanged(): void {
    this.directory.topologyChanged();
  }

  // ---------------------------------------------------------------- connections

  #onConnection(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      if (isH2Preface(chunk)) this.#h2.emit('connection', new PrependedStream(socket, chunk));
      else if (this.config.fastPath) {
        new FastConnection(this, socket, chunk, this.#toFullPath);
        if (!socket.destroyed && socket.listenerCount('data') > 0) socket.resume();
      } else this.#toFullPath(socket, chunk);
    });
  }

  /** node:http takes the connection (from its first byte, or from a request the fast path declined). */
  readonly #toFullPath = (socket: Socket, unread: Buffer): void => {
    socket.pause();
    if (unread.length) socket.unshift(unread);
    this.#http.emit('connection', socket);
    socket.resume();
  };

  /** The request being forwarded on a client connection, so a parse error later in its body can stop it. */
  readonly #inflight = new WeakMap<Socket, { abort(): void }>();

  /** Connections already answered with a 400 and `connection: close`: a later parse error on them gets no second answer. */
  readonly #closing = new WeakSet<Socket>();

  closing(socket: Socket): void {
    this.#closing.add(socket);
  }

  trackInflight(socket: Socket, forward: { abort(): void } | undefined): void {
    if (forward) this.#inflight.set(socket, forward);
    else this.#inflight.delete(socket);
  }

  #onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    // A request whose head passed but whose body is malformed: stop it before (or while) it goes upstream.
    this.#inflight.get(socket)?.abort();
    this.#inflight.delete(socket);
    const inFlight = (socket as unknown as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent || this.#closing.has(socket)) {
      socket.destroySoon();
      return;
    }
    const reason = clientErrorReason(err.code);
    this.metrics.badRequests.inc({ reason });
    const reply = proxyError(400, 'WEFT-P001', `${reason}${err.code ? ` (${err.code})` : ''}`, { reason, parser: err.code });
    socket.end(rawErrorResponse(reply, 'Bad Request'));
    socket.destroySoon();
    this.accessLog.log(this.accessRecord('http/1.1', '-', '-', '-', 400, 0, { error: reply.code, flags: reason }));
  }

  #onHttp1(req: IncomingMessage, res: ServerResponse): void {
    forwardHttp1(this, req, res);
  }

  // ---------------------------------------------------------------- decisions

  /** A 400 for a malformed request, counted and logged. */
  badRequest(reason: BadRequestReason, detail?: string): ProxyErrorReply {
    this.metrics.badRequests.inc({ reason });
    return proxyError(400, 'WEFT-P001', detail ? `${reason}: ${detail}` : reason, { reason });
  }

  // Metric children per label set, in nested maps keyed by the label strings themselves: a lookup hashes
  // strings whose hash V8 has cached, where a joined key would be a new string to hash per request.
  routeStats(route: string, service: string): RouteStats {
    let byService = this.#routeStats.get(route);
    if (!byService) this.#routeStats.set(route, (byService = new Map()));
    let s = byService.get(service);
    if (!s) byService.set(service, (s = new RouteStats(this.metrics, route, service)));
    return s;
  }

  upstreamStats(service: string, endpoint: string, version: string): UpstreamStats {
    let byEndpoint = this.#upstreamStats.get(service);
    if (!byEndpoint) this.#upstreamStats.set(service, (byEndpoint = new Map()));
    let byVersion = byEndpoint.get(endpoint);
    if (!byVersion) byEndpoint.set(endpoint, (byVersion = new Map()));
    let s = byVersion.get(version);
    if (!s) byVersion.set(version, (s = new UpstreamStats(this.metrics, service, endpoint, version)));
    return s;
  }

  /** Resolves the authority to a service ID (or the error reply). */
  resolve(protocol: ProxyProtocol, authority: string): { serviceId: string; port: number | undefined } | ProxyErrorReply {
    // The built-in resolver's answers hold until the directory changes: remembered per authority as sent.
    const cacheable = this.#resolvers[protocol] === this.#hostResolver;
    if (cacheable) {
      if (this.#resolvedGen !== this.directory.generation) {
        this.#resolved.clear();
        this.#resolvedGen = this.directory.generation;
      }
      const hit = this.#resolved.get(authority);
      if (hit !== undefined) {
        if (this.#allows && !this.#allows(hit.serviceId)) return proxyError(403, 'WEFT-P012', hit.serviceId, { service: hit.serviceId });
        return hit;
      }
    }
    const ok = this.#resolve(protocol, authority);
    if (cacheable && !('status' in ok)) {
      if (this.#resolved.size >= 4096) this.#resolved.clear();
      this.#resolved.set(authority, ok);
    }
    if (!('status' in ok) && this.#allows && !this.#allows(ok.serviceId)) return proxyError(403, 'WEFT-P012', ok.serviceId, { service: ok.serviceId });
    return ok;
  }

  #resolve(protocol: ProxyProtocol, authority: string): { serviceId: string; port: number | undefined } | ProxyErrorReply {
    const hp = splitHostPort(authority);
    if (!hp) return this.badRequest('bad-host', authority);
    const r = this.#resolvers[protocol].resolve(hp.host, hp.port, this.namespace);
    if (!r.ok) {
      const what = r.reason === 'ambiguous' ? `${hp.host} is ambiguous` : r.reason === 'unknown' ? `${hp.host} is unknown` : `${hp.host} is not a mesh name`;
      return proxyError(404, 'WEFT-P002', what, { host: hp.host, ...(hp.port !== undefined ? { port: hp.port } : {}), reason: r.reason, ...(r.candidates.length ? { candidates: r.candidates } : {}) });
    }
    return { serviceId: r.serviceId, port: hp.port };
  }

  /** Route, rate limit, fault and destination for a request to `serviceId`. */
  decide(serviceId: string, view: RequestView, clientAddress: string | undefined): Decision | ProxyErrorReply {
    const route = this.#rules.select(serviceId, view);
    const routeName = route?.name ?? DEFAULT_ROUTE;
    if (route?.rateLimit) {
      const rl = route.rateLimit;
      const key = rl.key.kind === 'route' ? '-' : rl.key.kind === 'source' ? (clientAddress ?? '-') : String(view.headers[rl.key.name] ?? '-');
      if (!this.#rateLimits.allow(route.name, rl, key)) {
        this.metrics.rateLimited.inc({ route: routeName });
        return proxyError(429, 'WEFT-P007', `route ${routeName}: over ${rl.limit} requests per ${rl.windowMs}ms`, { route: routeName, limit: rl.limit, windowMs: rl.windowMs });
      }
    }
    let delayMs = 0;
    const fault = route?.fault;
    if (fault?.abort && Math.random() < fault.abort.fraction) {
      this.metrics.faults.inc({ route: routeName, kind: 'abort' });
      return proxyError(fault.abort.status, 'WEFT-P008', `route ${routeName}: abort ${fault.abort.status}`, { route: routeName });
    }
    if (fault?.delay && Math.random() < fault.delay.fraction) {
      this.metrics.faults.inc({ route: routeName, kind: 'delay' });
      delayMs = fault.delay.ms;
    }
    let target = serviceId;
    let selector: SubsetSelector = ALL;
    if (route) {
      const d = pickWeighted(route.destinations);
      if (d.host !== undefined) {
        const id = this.#rules.resolveHost(d.host, this.#specNamespace(route));
        if (id === undefined) return proxyError(503, 'WEFT-P003', `route ${routeName}: destination ${d.host} is not a known service`, { route: routeName, host: d.host });
        target = id;
      }
      if (d.subset !== undefined) selector = { kind: 'subset', name: d.subset };
      else if (d.version !== undefined) selector = { kind: 'version', version: d.version };
    }
    const cluster = this.cluster(target, selector);
    let hash: number | undefined;
    const on = cluster.hashOn;
    if (on) {
      const key = on.kind === 'source' ? clientAddress : view.headers[on.name];
      if (key !== undefined) hash = flowHash(this.#table, Array.isArray(key) ? key.join(',') : key);
    }
    return {
      serviceId: target,
      route,
      routeName,
      stats: this.routeStats(routeName, target),
      cluster,
      timeoutMs: route?.timeoutMs ?? this.config.timeouts.requestMs,
      retries: route?.retries ?? this.config.retries,
      delayMs,
      hash,
    };
  }

  #specNamespace(route: HttpRoute): string {
    // Route names are `<ns>/<doc>/<name>`: hosts in a document resolve in its namespace.
    return route.name.slice(0, route.name.indexOf('/'));
  }

  /** The cluster for a service (or subset), refreshed against the directory and rules. */
  cluster(serviceId: string, selector: SubsetSelector): UpstreamCluster {
    let svc = this.#services.get(serviceId);
    if (!svc) this.#services.set(serviceId, (svc = new ServiceState(serviceId, this.config, this.metrics)));
    svc.refresh(this.directory);
    let c = selector.kind === 'all' ? this.#wholeClusters.get(serviceId) : undefined;
    if (!c) {
      const key = `${serviceId}|${selectorKey(selector)}`;
      c = this.#clusters.get(key);
      if (!c) this.#clusters.set(key, (c = new UpstreamCluster(svc, selector, this.#table, this.delivery, this.#identity, this.config)));
      if (selector.kind === 'all') this.#wholeClusters.set(serviceId, c);
    }
    c.applyRules(this.#rulesGen, this.config, this.#rules.destination(serviceId));
    return c;
  }

  requestStarted(): void {
    this.#active++;
  }

  requestEnded(): void {
    if (--this.#active === 0) this.#idle?.();
  }

  accessRecord(protocol: AccessRecord['protocol'], method: string, authority: string, path: string, status: number, durationMs: number, extra: Partial<AccessRecord>): AccessRecord {
    return {
      time: isoNow(),
      msg: 'access',
      protocol,
      method,
      authority,
      path,
      status,
      durationMs,
      service: undefined,
      route: undefined,
      endpoint: undefined,
      version: undefined,
      attempts: 0,
      upstreamMs: undefined,
      bytesIn: 0,
      bytesOut: 0,
      requestId: undefined,
      traceId: undefined,
      spanId: undefined,
      client: undefined,
      error: undefined,
      flags: undefined,
      ...extra,
    };
  }

  /** Views for the admin API / tests: clusters with their endpoints and state. */
  clustersView(): unknown[] {
    const now = performance.now();
    return [...this.#clusters.values()].map((c) => ({
      cluster: c.key,
      lb: c.policy.lb,
      breaker: c.policy.breaker,
      active: c.active,
      pending: c.pending,
      connections: c.connections,
      endpoints: c.service.list.map((s) => ({
        key: s.ep.key,
        version: s.ep.version,
        weight: s.ep.weight,
        health: s.ep.health,
        ejected: s.ejected(now),
        ejectedForMs: s.ejected(now) ? Math.round(s.ejectedUntil - now) : 0,
        outstanding: s.outstanding,
        eligible: c.eligible(now).includes(s),
      })),
    }));
  }

  /** Stops listening, lets requests in flight finish for up to `graceMs`, then closes client connections, upstream pools, timers. */
  async close(graceMs = 0): Promise<void> {
    this.#watcher?.close();
    this.#checker.close();
    this.#rateLimits.close();
    const net = this.#net;
    this.#net = undefined;
    // server.close() calls back once every connection is gone: those are ended below.
    const closed = net ? new Promise<void>((r) => net.close(() => r())) : Promise.resolve();
    this.#http.closeIdleConnections();
    for (const c of this.fastConnections) c.closeIdle();
    if (graceMs > 0 && this.#active > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.#idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#idle = undefined;
    }
    for (const s of this.#sockets) s.destroy();
    for (const c of this.#clusters.values()) c.close();
    for (const s of this.#services.values()) s.close();
    this.#clusters.clear();
    this.#wholeClusters.clear();
    this.deadlines.close();
    await closed;
    await this.accessLog.close();
  }
}

/** A valid X-Forwarded-Port value, else `fallback`. */
export function forwardedPort(value: string | string[] | undefined, fallback: number | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d{1,5}$/.test(value)) return fallback;
  const n = Number(value);
  return n >= 1 && n <= 65535 ? n : fallback;
}

function pickWeighted<T extends { weight: number }>(list: readonly T[]): T {
  if (list.length === 1) return list[0]!;
  let total = 0;
  for (const d of list) total += d.weight;
  let r = Math.random() * total;
  for (const d of list) {
    r -= d.weight;
    if (r < 0 && d.weight > 0) return d;
  }
  for (let i = list.length - 1; i >= 0; i--) if (list[i]!.weight > 0) return list[i]!;
  return list[0]!;
}

// One HTTP/1.x request through the proxy: guard, destination, decision, then
// attempts until one answers, the retry policy and budget say stop, or the
// route timeout passes. The request is re-serialized upstream (hop-by-hop
// headers dropped, trace and request-id headers set), the body is streamed and
// kept for retries up to the buffer limit, and the response is streamed back.
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Dispatcher } from 'undici';
import { UpstreamError } from '../agent/upstream.js';
import { BodyReplay } from './body-replay.js';
import type { EndpointState } from './endpoint-state.js';
import { proxyError, type ProxyErrorReply } from './error-response.js';
import { checkHeaders, requestTarget } from './request-guard.js';
import type { HeaderOps, RetryPolicy } from './rules/model.js';
import { forwardedPort, type Decision, type RequestContext, type SidecarProxy } from './sidecar-proxy.js';
import { nextTrace, requestId } from './trace.js';

/** Headers that describe one connection, not the request (RFC 9110 §7.6.1), plus ones the proxy handles itself. */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect', 'http2-settings']);

export function applyHeaderOps(h: Record<string, unknown>, ops: HeaderOps | undefined): void {
  if (!ops) return;
  for (const name of ops.remove) delete h[name];
  for (const [k, v] of ops.set) h[k] = v;
  for (const [k, v] of ops.add) {
    const cur = h[k];
    h[k] = cur === undefined ? v : Array.isArray(cur) ? [...cur, v] : [String(cur), v];
  }
}

/** Path after the route's rewrite: the matched prefix replaced, or the whole path for other matches. */
export function rewritePath(path: string, d: Decision, reqPath: string): string {
  const to = d.route?.rewritePath;
  if (to === undefined) return path;
  const query = path.slice(reqPath.length);
  const m = d.route!.match.find((x) => x.path?.kind === 'prefix' && reqPath.startsWith(x.path.value));
  const rest = m ? reqPath.slice(m.path!.value.length) : '';
  return `${to}${rest}${query}`;
}

function connectionTokens(h: IncomingHttpHeaders): string[] {
  const c = h.connection;
  return c ? c.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean) : [];
}

/** Request headers for the upstream. */
export function upstreamRequestHeaders(h: IncomingHttpHeaders, authority: string, rc: RequestContext, d: Decision): OutgoingHttpHeaders {
  const out: Record<string, unknown> = {};
  const drop = connectionTokens(h);
  for (const k in h) {
    if (HOP_BY_HOP.has(k) || (drop.length && drop.includes(k))) continue;
    out[k] = h[k];
  }
  out.host = authority;
  out['x-request-id'] = rc.requestId;
  out.traceparent = rc.trace.traceparent;
  out['x-forwarded-proto'] = 'http';
  if (rc.client) out['x-forwarded-for'] = h['x-forwarded-for'] ? `${h['x-forwarded-for']}, ${rc.client}` : rc.client;
  if (rc.deliveryPort !== undefined) out['x-forwarded-port'] = String(rc.deliveryPort);
  applyHeaderOps(out, d.route?.requestHeaders);
  return out as OutgoingHttpHeaders;
}

/** Whether a failure or status may be retried under `r`. */
export function retriable(r: RetryPolicy, what: { status: number } | 'connect-failure' | 'reset' | 'timeout' | 'refused-stream'): boolean {
  if (what === 'connect-failure') return r.on.connectFailure;
  if (what === 'reset' || what === 'timeout') return r.on.reset || r.on.gatewayError || r.on.fiveXx;
  if (what === 'refused-stream') return r.on.refusedStream || r.on.connectFailure;
  const s = what.status;
  return (r.on.fiveXx && s >= 500) || (r.on.gatewayError && (s === 502 || s === 503 || s === 504)) || r.on.statusCodes.has(s);
}

/** Jittered exponential backoff between attempts (Envoy: 25 ms base, 10× cap). */
export function retryBackoffMs(retry: number): number {
  return Math.random() * Math.min(250, 25 * 2 ** (retry - 1));
}

/**
 * Whether the cluster's retry budget has room for one more retry (Envoy's: a share of
 * the active requests, at least minConcurrency, never above the breaker's maxRetries);
 * counts the overflow when it has not.
 */
export function retryBudgetAllows(p: SidecarProxy, d: Decision): boolean {
  const c = d.cluster;
  const budget = Math.max(p.config.retryBudget.minConcurrency, (c.active * p.config.retryBudget.percent) / 100);
  if (c.retriesActive < budget && c.retriesActive < c.policy.breaker.maxRetries) return true;
  p.metrics.overflow.inc({ service: d.serviceId, limit: 'retryBudget' });
  return false;
}

/** The 503 for a circuit-breaker limit reached (the overflow is counted). */
export function overflowReply(p: SidecarProxy, d: Decision, limit: string): ProxyErrorReply {
  const c = d.cluster;
  p.metrics.overflow.inc({ service: d.serviceId, limit });
  return proxyError(503, 'WEFT-P004', `${c.key}: ${limit} (${c.policy.breaker[limit as keyof typeof c.policy.breaker]}) reached`, { cluster: c.key, limit, active: c.active, pending: c.pending });
}

/** The 504 for a route timeout (the timeout is counted). */
export function timeoutReply(p: SidecarProxy, d: Decision, attempts: number): ProxyErrorReply {
  p.metrics.timeouts.inc({ route: d.routeName, service: d.serviceId });
  return proxyError(504, 'WEFT-P006', `${d.cluster.key}: no response within ${d.timeoutMs}ms`, { cluster: d.cluster.key, timeoutMs: d.timeoutMs, attempts });
}

/** The answer when the last attempt failed without a response: 503 if it could not connect, else 502. */
export function attemptFailureReply(d: Decision, st: EndpointState, failure: string, err: Error & { code?: string }): ProxyErrorReply {
  const status = failure === 'connect-failure' ? 503 : 502;
  return proxyError(status, 'WEFT-P005', `${st.ep.key}: ${failure} (${err.code ?? err.message})`, { cluster: d.cluster.key, endpoint: st.ep.key, failure, errno: err.code });
}

type Failure = 'connect-failure' | 'reset' | 'timeout';

export function forwardHttp1(p: SidecarProxy, req: IncomingMessage, res: ServerResponse): void {
  const start = performance.now();
  const protocol = req.httpVersion === '1.0' ? 'http/1.0' : 'http/1.1';
  const reject = (reply: ProxyErrorReply, extra: { service?: string; route?: string; rc?: RequestContext; close?: boolean } = {}) => {
    if (extra.close) p.closing(req.socket);
    sendError(res, reply, extra.close === true, extra.rc?.requestId);
    const ms = performance.now() - start;
    p.accessLog.log(
      p.accessRecord(protocol, req.method ?? '-', req.headers.host ?? '-', req.url ?? '-', reply.status, round(ms), {
        error: reply.code,
        service: extra.service,
        route: extra.route,
        requestId: extra.rc?.requestId,
        traceId: extra.rc?.trace.traceId,
        spanId: extra.rc?.trace.spanId,
        client: req.socket.remoteAddress,
      }),
    );
  };
  const bad = checkHeaders(req);
  if (bad) return reject(p.badRequest(bad), { close: true });
  const target = requestTarget(req);
  if (typeof target === 'string') return reject(p.badRequest(target, req.url), { close: true });
  const resolved = p.resolve('http', target.authority);
  if ('status' in resolved) return reject(resolved);
  const qi = target.path.indexOf('?');
  const reqPath = qi < 0 ? target.path : target.path.slice(0, qi);
  const rc: RequestContext = {
    protocol,
    start,
    method: req.method!,
    authority: target.authority,
    path: target.path,
    port: resolved.port,
    deliveryPort: forwardedPort(req.headers['x-forwarded-port'], resolved.port),
    requestId: requestId(req.headers['x-request-id']),
    trace: nextTrace(req.headers.traceparent as string | undefined),
    client: req.socket.remoteAddress,
  };
  const view = { method: rc.method, path: reqPath, headers: req.headers, port: rc.port };
  const d = p.decide(resolved.serviceId, view, rc.client);
  if ('status' in d) {
    if (d.code !== 'WEFT-P007' && d.code !== 'WEFT-P008') return reject(d, { service: resolved.serviceId, rc });
    // Rate limits and injected faults are route outcomes: counted on the route too.
    const route = p.rules.select(resolved.serviceId, view)?.name ?? 'default';
    p.routeStats(route, resolved.serviceId).record(d.status, (performance.now() - start) / 1000);
    return reject(d, { service: resolved.serviceId, route, rc });
  }
  new Http1Forward(p, req, res, rc, d, reqPath).begin();
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function sendError(res: ServerResponse, reply: ProxyErrorReply, close: boolean, id: string | undefined): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: OutgoingHttpHeaders = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(reply.body),
    'x-weft-error': reply.code,
  };
  if (id) headers['x-request-id'] = id;
  if (close) headers.connection = 'close';
  res.writeHead(reply.status, headers);
  res.end(reply.body);
}

class Http1Forward {
  readonly #p: SidecarProxy;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #rc: RequestContext;
  readonly #d: Decision;
  readonly #body: BodyReplay | undefined;
  readonly #headers: OutgoingHttpHeaders;
  readonly #path: string;
  readonly #tried = new Set<EndpointState>();
  #attempts = 0;
  #done = false;
  #current: Attempt | undefined;
  #state: EndpointState | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #upstreamMs: number | undefined;
  #bytesOut = 0;

  constructor(p: SidecarProxy, req: IncomingMessage, res: ServerResponse, rc: RequestContext, d: Decision, reqPath: string) {
    this.#p = p;
    this.#req = req;
    this.#res = res;
    this.#rc = rc;
    this.#d = d;
    const cl = req.headers['content-length'];
    const hasBody = req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
    this.#body = hasBody ? new BodyReplay(req, p.config.limits.retryBufferBytes) : undefined;
    this.#headers = upstreamRequestHeaders(req.headers, rc.authority, rc, d);
    this.#path = rewritePath(rc.path, d, reqPath);
  }

  /** The client's request turned out malformed (a parse error in its body): drop the attempt, answer nothing more. */
  abort(): void {
    if (this.#done) return;
    this.#current?.cancel();
    this.#body?.detach();
    this.#finish(400, 'malformed request body', 'WEFT-P001');
  }

  begin(): void {
    this.#p.requestStarted();
    this.#p.trackInflight(this.#req.socket, this);
    this.#res.once('close', () => {
      if (!this.#done) this.#finish(499, 'client closed', undefined);
    });
    if (this.#d.timeoutMs > 0) this.#deadline = setTimeout(() => this.#onDeadline(), this.#d.timeoutMs);
    if (this.#d.delayMs > 0) setTimeout(() => this.#attempt(), this.#d.delayMs);
    else this.#attempt();
  }

  #attempt(): void {
    if (this.#done) return;
    const c = this.#d.cluster;
    const limits = c.policy.breaker;
    if (c.active >= limits.maxRequests) return this.#overflow('maxRequests');
    if (c.pending >= limits.maxPendingRequests) return this.#overflow('maxPendingRequests');
    const now = performance.now();
    const st = c.pick(this.#d.hash, this.#tried, now);
    if (!st) {
      const members = c.members();
      const reply = proxyError(503, 'WEFT-P003', `${c.key}: no healthy endpoint (${members} in the cluster)`, { cluster: c.key, endpoints: members });
      return this.#fail(reply);
    }
    this.#tried.add(st);
    this.#attempts++;
    const isRetry = this.#attempts > 1;
    if (isRetry) this.#p.metrics.retries.inc({ service: this.#d.serviceId });
    c.attemptStarted(st, isRetry);
    this.#state = st;
    new Attempt(this, st, now, isRetry).start();
  }

  /** One attempt finished without a response the client gets: retry, or answer the failure. */
  attemptFailed(st: EndpointState, failure: Failure, err: Error & { code?: string }): void {
    if (this.#done) return;
    const c = this.#d.cluster;
    this.#p.upstreamStats(this.#d.serviceId, st.ep.key, st.ep.version).failures.inc();
    c.service.report(st, { kind: 'local-failure' }, c.policy.outlier, performance.now());
    if (this.#canRetry(failure)) return this.#retry();
    if (failure === 'timeout') return this.#timeout();
    this.#fail(attemptFailureReply(this.#d, st, failure, err));
  }

  /** Response head from the endpoint: retry on it, or start answering the client. False: the attempt's body is to be dropped. */
  attemptResponded(st: EndpointState, status: number, t0: number): boolean {
    if (this.#done) return false;
    const c = this.#d.cluster;
    const end = performance.now();
    st.ewma.observe(end - t0, end);
    this.#p.upstreamStats(this.#d.serviceId, st.ep.key, st.ep.version).record(status, (end - t0) / 1000);
    c.service.report(st, { kind: 'status', status }, c.policy.outlier, end);
    this.#upstreamMs = end - t0;
    if (this.#canRetry({ status })) {
      this.#retry();
      return false;
    }
    clearTimeout(this.#deadline);
    return true;
  }

  get done(): boolean {
    return this.#done;
  }
  get decision(): Decision {
    return this.#d;
  }
  get context(): RequestContext {
    return this.#rc;
  }
  get response(): ServerResponse {
    return this.#res;
  }
  get proxy(): SidecarProxy {
    return this.#p;
  }
  get upstreamPath(): string {
    return this.#path;
  }
  get upstreamHeaders(): OutgoingHttpHeaders {
    return this.#headers;
  }
  get body(): BodyReplay | undefined {
    return this.#body;
  }
  countOut(n: number): void {
    this.#bytesOut += n;
  }
  /** Registers the attempt the deadline or a client close must cancel. */
  setCurrent(a: Attempt | undefined): void {
    this.#current = a;
  }
  isCurrent(a: Attempt): boolean {
    return this.#current === a;
  }
  finishResponse(status: number, problem: string | undefined): void {
    this.#finish(status, problem, undefined);
  }

  #canRetry(what: { status: number } | Failure): boolean {
    const r = this.#d.retries;
    if (this.#attempts > r.attempts) return false;
    if (this.#body && !this.#body.replayable) return false;
    return retriable(r, what) && retryBudgetAllows(this.#p, this.#d);
  }

  #retry(): void {
    this.#body?.detach();
    this.#current?.cancel();
    this.#current = undefined;
    setTimeout(() => this.#attempt(), retryBackoffMs(this.#attempts));
  }

  #overflow(limit: string): void {
    this.#fail(overflowReply(this.#p, this.#d, limit));
  }

  #onDeadline(): void {
    if (this.#done) return;
    this.#current?.cancel();
    this.#timeout();
  }

  #timeout(): void {
    this.#fail(timeoutReply(this.#p, this.#d, this.#attempts));
  }

  #fail(reply: ProxyErrorReply): void {
    if (this.#done) return;
    clearTimeout(this.#deadline);
    this.#current?.cancel();
    this.#body?.detach();
    sendError(this.#res, reply, false, this.#rc.requestId);
    this.#finish(reply.status, undefined, reply.code);
  }

  #finish(status: number, problem: string | undefined, code: string | undefined): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#deadline);
    if (status === 499) this.#current?.cancel();
    const p = this.#p;
    p.trackInflight(this.#req.socket, undefined);
    p.requestEnded();
    const ms = performance.now() - this.#rc.start;
    this.#d.stats.record(status, ms / 1000);
    if (!p.accessLog.enabled) return;
    const st = this.#state;
    p.accessLog.log(
      p.accessRecord(this.#rc.protocol, this.#rc.method, this.#rc.authority, this.#rc.path, status, round(ms), {
        service: this.#d.serviceId,
        route: this.#d.routeName,
        endpoint: st?.ep.key,
        version: st?.ep.version,
        attempts: this.#attempts,
        upstreamMs: this.#upstreamMs === undefined ? undefined : round(this.#upstreamMs),
        bytesIn: this.#body?.bytes ?? 0,
        bytesOut: this.#bytesOut,
        requestId: this.#rc.requestId,
        traceId: this.#rc.trace.traceId,
        spanId: this.#rc.trace.spanId,
        client: this.#rc.client,
        error: code ?? problem,
        flags: this.#d.delayMs > 0 ? 'delayed' : undefined,
      }),
    );
  }
}

const NO_BODY = null;

/**
 * One try against one endpoint over undici's dispatcher (the fast path of its
 * client): the request is written when a pooled connection is free (`pending`
 * until then), the response head decides between retrying and answering, and
 * the body is streamed to the client with backpressure (pause/resume).
 */
class Attempt {
  #pending = true;
  #released = false;
  #abort: ((err?: Error) => void) | undefined;
  #cancelled = false;
  #committed = false;
  #perTry: NodeJS.Timeout | undefined;
  #failure: Failure | undefined;
  #status = 0;
  #drainHooked = false;
  /** Body bytes still expected (content-length), or -1: the chunk that completes it ends the response in one write. */
  #remaining = -1;
  #ended = false;

  constructor(
    private readonly f: Http1Forward,
    private readonly st: EndpointState,
    private readonly t0: number,
    private readonly isRetry: boolean,
  ) {}

  start(): void {
    const f = this.f;
    const d = f.decision;
    f.setCurrent(this);
    const pool = d.cluster.http.pool(this.st.ep, f.proxy.config.mode === 'sidecar' ? f.context.deliveryPort : undefined);
    const perTryMs = d.retries.perTryTimeoutMs;
    if (perTryMs > 0) this.#perTry = setTimeout(() => this.#fail('timeout', Object.assign(new Error('per-try timeout'), { code: 'WEFT_PER_TRY_TIMEOUT' })), perTryMs);
    let body: PassThrough | null = NO_BODY;
    if (f.body) {
      body = new PassThrough();
      f.body.pipeTo(body);
    }
    pool.dispatch(
      { method: f.context.method, path: f.upstreamPath, headers: f.upstreamHeaders as Record<string, string>, body },
      this as unknown as Dispatcher.DispatchHandler,
    );
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.f.decision.cluster.attemptEnded(this.st, this.isRetry, this.#pending);
    clearTimeout(this.#perTry);
  }

  /** The deadline, a retry, the client leaving: stop this try. */
  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#abort?.(new Error('cancelled'));
    this.#release();
  }

  #fail(failure: Failure, err: Error & { code?: string }): void {
    if (this.#cancelled || this.#failure) return;
    this.#failure = failure;
    this.#abort?.(err);
    this.#release();
    if (this.#committed) {
      // The client already has the head: cut its response.
      this.f.response.destroy();
      this.f.finishResponse(this.#status, `upstream ${failure} mid-response`);
      return;
    }
    if (this.f.isCurrent(this)) this.f.attemptFailed(this.st, failure, err);
  }

  // ---- undici dispatch handler (the legacy interface is its native one)

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#pending) {
      this.#pending = false;
      this.f.decision.cluster.attemptConnected();
    }
    if (this.#cancelled || this.#failure) abort(new Error('cancelled'));
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusMessage: string): boolean {
    if (this.#cancelled || this.#failure) return false;
    if (status < 200) return true; // 1xx: informational, not relayed (100-continue is handled by node toward the client)
    clearTimeout(this.#perTry);
    this.#status = status;
    if (!this.f.attemptResponded(this.st, status, this.t0)) {
      this.#cancelled = true;
      this.#abort?.(new Error('retrying'));
      this.#release();
      return false;
    }
    this.#committed = true;
    const res = this.f.response;
    if (res.destroyed) return false;
    res.writeHead(status, statusMessage || undefined, responseHeaderList(raw, this.f.context, this.f.decision));
    if (this.f.context.method !== 'HEAD' && status !== 204 && status !== 304) this.#remaining = contentLength(raw);
    if (!this.#drainHooked) {
      this.#drainHooked = true;
      res.on('drain', resume);
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#cancelled) return false;
    this.f.countOut(chunk.length);
    if (this.#remaining === chunk.length) {
      // The last (often the only) chunk: head and body leave in one write.
      this.#ended = true;
      this.f.response.end(chunk);
      return true;
    }
    if (this.#remaining > 0) this.#remaining -= chunk.length;
    return this.f.response.write(chunk);
  }

  onComplete(): void {
    if (this.#cancelled) return;
    this.#release();
    if (!this.#ended) this.f.response.end();
    this.f.finishResponse(this.#status, undefined);
  }

  onError(err: Error & { code?: string }): void {
    if (this.#cancelled || this.#failure) return;
    const failure: Failure = err.code === 'WEFT_PER_TRY_TIMEOUT' ? 'timeout' : this.#pending || err instanceof UpstreamError || CONNECT_ERRORS.has(err.code ?? '') ? 'connect-failure' : 'reset';
    this.#fail(failure, err);
  }

  onUpgrade(): void {
    this.#fail('reset', new Error('unexpected upgrade'));
  }
}

/** The Content-Length in undici's raw headers, or -1. */
function contentLength(raw: Buffer[]): number {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 14 && raw[i]!.toString('latin1').toLowerCase() === 'content-length') return Number(raw[i + 1]!.toString('latin1'));
  }
  return -1;
}

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOENT', 'EAGAIN', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** Response headers for the client from undici's raw list: hop-by-hop dropped, x-request-id and route edits applied. */
function responseHeaderList(raw: Buffer[], rc: RequestContext, d: Decision): OutgoingHttpHeaders | string[] {
  let drop: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toString('latin1').toLowerCase() === 'connection') {
      drop = raw[i + 1]!.toString('latin1').split(',').map((t) => t.trim().toLowerCase());
    }
  }
  if (d.route?.responseHeaders) {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1').toLowerCase();
      if (HOP_BY_HOP.has(name) || drop?.includes(name)) continue;
      const v = raw[i + 1]!.toString('latin1');
      const cur = out[name];
      out[name] = cur === undefined ? v : Array.isArray(cur) ? [...cur, v] : [cur as string, v];
    }
    out['x-request-id'] = rc.requestId;
    applyHeaderOps(out, d.route.responseHeaders);
    return out as OutgoingHttpHeaders;
  }
  const list: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const lower = name.length <= 19 ? name.toLowerCase() : name;
    if (HOP_BY_HOP.has(lower) || drop?.includes(lower)) continue;
    list.push(name, raw[i + 1]!.toString('latin1'));
  }
  list.push('x-request-id', rc.requestId);
  return list;
}

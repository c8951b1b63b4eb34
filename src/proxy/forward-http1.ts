// One HTTP/1.x request through the proxy: guard, destination, decision, then
// attempts until one answers, the retry policy and budget say stop, or the
// route timeout passes. The request is re-serialized upstream (hop-by-hop
// headers dropped, trace and request-id headers set), the body is streamed and
// kept for retries up to the buffer limit, and the response is streamed back.
import { request, type RequestOptions, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { UpstreamError } from '../agent/upstream.js';
import { BodyReplay } from './body-replay.js';
import type { EndpointState } from './endpoint-state.js';
import { proxyError, type ProxyErrorReply } from './error-response.js';
import { checkHeaders, requestTarget } from './request-guard.js';
import type { HeaderOps, RetryPolicy } from './rules/model.js';
import type { Decision, RequestContext, SidecarProxy } from './sidecar-proxy.js';
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
  if (rc.port !== undefined && out['x-forwarded-port'] === undefined) out['x-forwarded-port'] = String(rc.port);
  applyHeaderOps(out, d.route?.requestHeaders);
  return out as OutgoingHttpHeaders;
}

function responseHeaders(h: IncomingHttpHeaders, rc: RequestContext, d: Decision): OutgoingHttpHeaders {
  const out: Record<string, unknown> = {};
  const drop = connectionTokens(h);
  for (const k in h) {
    if (HOP_BY_HOP.has(k) || (drop.length && drop.includes(k))) continue;
    out[k] = h[k];
  }
  out['x-request-id'] = rc.requestId;
  applyHeaderOps(out, d.route?.responseHeaders);
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
    requestId: requestId(req.headers['x-request-id']),
    trace: nextTrace(req.headers.traceparent as string | undefined),
    client: req.socket.remoteAddress,
  };
  const view = { method: rc.method, path: reqPath, headers: req.headers, port: rc.port };
  const d = p.decide(resolved.serviceId, view, rc.client, req.headers);
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
  #current: ClientRequest | undefined;
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
    this.#current?.destroy();
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
    if (isRetry) {
      c.retriesActive++;
      this.#p.metrics.retries.inc({ service: this.#d.serviceId });
    }
    c.active++;
    c.pending++;
    st.outstanding++;
    this.#state = st;
    let pending = true;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (pending) c.pending--;
      c.active--;
      st.outstanding--;
      if (isRetry) c.retriesActive--;
    };
    const t0 = now;
    const creq = request({
      agent: c.http,
      method: this.#rc.method,
      path: this.#path,
      headers: this.#headers,
      setHost: false,
      weftEndpoint: st.ep,
      weftPort: this.#rc.port,
    } as unknown as RequestOptions);
    this.#current = creq;
    let perTry: NodeJS.Timeout | undefined;
    const perTryMs = this.#d.retries.perTryTimeoutMs;
    creq.once('socket', () => {
      pending = false;
      c.pending--;
      if (perTryMs > 0) perTry = setTimeout(() => creq.destroy(Object.assign(new Error('per-try timeout'), { code: 'WEFT_PER_TRY_TIMEOUT' })), perTryMs);
    });
    creq.once('response', (cres: IncomingMessage) => {
      clearTimeout(perTry);
      if (this.#done) {
        cres.resume();
        release();
        return;
      }
      const end = performance.now();
      const status = cres.statusCode ?? 502;
      st.ewma.observe(end - t0, end);
      this.#p.upstreamStats(this.#d.serviceId, st.ep.key, st.ep.version).record(status, (end - t0) / 1000);
      c.service.report(st, { kind: 'status', status }, c.policy.outlier, end);
      this.#upstreamMs = end - t0;
      if (this.#canRetry({ status })) {
        cres.resume();
        cres.once('end', release);
        cres.once('error', release);
        this.#retry();
        return;
      }
      this.#respond(cres, release);
    });
    creq.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(perTry);
      release();
      if (this.#done || this.#current !== creq) return;
      const failure: Failure = err.code === 'WEFT_PER_TRY_TIMEOUT' ? 'timeout' : err instanceof UpstreamError || pending ? 'connect-failure' : 'reset';
      const at = performance.now();
      this.#p.upstreamStats(this.#d.serviceId, st.ep.key, st.ep.version).failures.inc();
      c.service.report(st, { kind: 'local-failure' }, c.policy.outlier, at);
      if (this.#canRetry(failure)) return this.#retry();
      if (failure === 'timeout') return this.#timeout();
      const status = failure === 'connect-failure' ? 503 : 502;
      this.#fail(proxyError(status, 'WEFT-P005', `${st.ep.key}: ${failure} (${err.code ?? err.message})`, { cluster: c.key, endpoint: st.ep.key, failure, errno: err.code }));
    });
    if (this.#body) this.#body.pipeTo(creq);
    else creq.end();
  }

  #canRetry(what: { status: number } | Failure): boolean {
    const r = this.#d.retries;
    if (this.#attempts > r.attempts) return false;
    if (this.#body && !this.#body.replayable) return false;
    if (!retriable(r, what)) return false;
    const c = this.#d.cluster;
    const budget = Math.max(this.#p.config.retryBudget.minConcurrency, (c.active * this.#p.config.retryBudget.percent) / 100);
    if (c.retriesActive >= budget || c.retriesActive >= c.policy.breaker.maxRetries) {
      this.#p.metrics.overflow.inc({ service: this.#d.serviceId, limit: 'retryBudget' });
      return false;
    }
    return true;
  }

  #retry(): void {
    this.#body?.detach();
    this.#current = undefined;
    setTimeout(() => this.#attempt(), retryBackoffMs(this.#attempts));
  }

  #respond(cres: IncomingMessage, release: () => void): void {
    const res = this.#res;
    const status = cres.statusCode ?? 502;
    clearTimeout(this.#deadline);
    res.writeHead(status, cres.statusMessage, responseHeaders(cres.headers, this.#rc, this.#d));
    cres.on('data', (c: Buffer) => {
      this.#bytesOut += c.length;
      if (!res.write(c)) cres.pause();
    });
    res.on('drain', () => cres.resume());
    cres.once('end', () => {
      release();
      res.end();
      this.#finish(status, undefined, undefined);
    });
    cres.once('error', () => {
      release();
      res.destroy();
      this.#finish(status, 'upstream reset mid-response', undefined);
    });
    cres.once('aborted', () => {
      release();
      res.destroy();
    });
  }

  #overflow(limit: string): void {
    const c = this.#d.cluster;
    this.#p.metrics.overflow.inc({ service: this.#d.serviceId, limit });
    this.#fail(proxyError(503, 'WEFT-P004', `${c.key}: ${limit} (${c.policy.breaker[limit as keyof typeof c.policy.breaker]}) reached`, { cluster: c.key, limit, active: c.active, pending: c.pending }));
  }

  #onDeadline(): void {
    if (this.#done) return;
    this.#current?.destroy();
    this.#timeout();
  }

  #timeout(): void {
    this.#p.metrics.timeouts.inc({ route: this.#d.routeName, service: this.#d.serviceId });
    this.#fail(proxyError(504, 'WEFT-P006', `${this.#d.cluster.key}: no response within ${this.#d.timeoutMs}ms`, { cluster: this.#d.cluster.key, timeoutMs: this.#d.timeoutMs, attempts: this.#attempts }));
  }

  #fail(reply: ProxyErrorReply): void {
    if (this.#done) return;
    clearTimeout(this.#deadline);
    this.#current?.destroy();
    this.#body?.detach();
    sendError(this.#res, reply, false, this.#rc.requestId);
    this.#finish(reply.status, undefined, reply.code);
  }

  #finish(status: number, problem: string | undefined, code: string | undefined): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#deadline);
    if (status === 499) this.#current?.destroy();
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

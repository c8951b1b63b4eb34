// One h2c stream through the proxy (gRPC with prior knowledge, or any HTTP/2
// client): the same destination, decision, breaker, balancing, retry and
// outlier logic as HTTP/1, over a multiplexed h2c session per endpoint.
// Trailers are relayed (gRPC's grpc-status lives there); a trailers-only
// answer stays one HEADERS frame. Errors the proxy makes itself answer a gRPC
// request in gRPC terms (grpc-status in a trailers-only response).
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { BodyReplay } from './body-replay.js';
import type { EndpointState } from './endpoint-state.js';
import { proxyError, type ProxyErrorReply } from './error-response.js';
import { HOP_BY_HOP, applyHeaderOps, retriable, retryBackoffMs, retryBudgetAllows, rewritePath } from './forward-http1.js';
import { forwardedPort, type Decision, type RequestContext, type SidecarProxy } from './sidecar-proxy.js';
import { nextTrace, requestId } from './trace.js';

const { NGHTTP2_REFUSED_STREAM, HTTP2_FLAG_END_STREAM } = { NGHTTP2_REFUSED_STREAM: constants.NGHTTP2_REFUSED_STREAM, HTTP2_FLAG_END_STREAM: 0x1 };

/** gRPC status for an HTTP status the proxy answers with (grpc/doc/http-grpc-status-mapping.md). */
export function grpcStatusFor(status: number): number {
  switch (status) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
      return 14; // UNAVAILABLE
    case 504:
      return 4; // DEADLINE_EXCEEDED
    default:
      return 2; // UNKNOWN
  }
}

function isGrpc(h: IncomingHttpHeaders): boolean {
  const ct = h['content-type'];
  return typeof ct === 'string' && ct.startsWith('application/grpc');
}

function respondError(stream: ServerHttp2Stream, reply: ProxyErrorReply, grpc: boolean, id: string | undefined): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  if (grpc) {
    stream.respond(
      {
        ':status': 200,
        'content-type': 'application/grpc',
        'grpc-status': String(grpcStatusFor(reply.status)),
        'grpc-message': encodeGrpcMessage(JSON.parse(reply.body).error.message as string),
        'x-weft-error': reply.code,
        ...(id ? { 'x-request-id': id } : {}),
      },
      { endStream: true },
    );
    return;
  }
  stream.respond({ ':status': reply.status, 'content-type': 'application/json; charset=utf-8', 'x-weft-error': reply.code, ...(id ? { 'x-request-id': id } : {}) });
  stream.end(reply.body);
}

function copyHeaders(h: IncomingHttpHeaders, out: Record<string, unknown>): void {
  for (const k in h) {
    if (k.charCodeAt(0) === 58 /* : */) continue;
    if (HOP_BY_HOP.has(k) && !(k === 'te' && h.te === 'trailers')) continue;
    out[k] = h[k];
  }
}

export function forwardH2(p: SidecarProxy, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  const start = performance.now();
  stream.on('error', () => undefined);
  const method = headers[':method'] ?? 'GET';
  const authority = (headers[':authority'] ?? headers.host ?? '') as string;
  const path = headers[':path'] ?? '/';
  const grpc = isGrpc(headers);
  const client = stream.session?.socket?.remoteAddress;
  const reject = (reply: ProxyErrorReply, service?: string, rc?: RequestContext) => {
    respondError(stream, reply, grpc, rc?.requestId);
    p.accessLog.log(p.accessRecord('h2c', method, authority, path, reply.status, Math.round((performance.now() - start) * 1000) / 1000, { error: reply.code, service, client, requestId: rc?.requestId, traceId: rc?.trace.traceId, spanId: rc?.trace.spanId }));
  };
  if (method === 'CONNECT' || !authority || !path.startsWith('/')) return reject(p.badRequest('bad-target', `${method} ${authority} ${path}`));
  const resolved = p.resolve('h2', authority);
  if ('status' in resolved) return reject(resolved);
  const qi = path.indexOf('?');
  const reqPath = qi < 0 ? path : path.slice(0, qi);
  const rc: RequestContext = {
    protocol: 'h2c',
    start,
    method,
    authority,
    path,
    port: resolved.port,
    deliveryPort: forwardedPort(headers['x-forwarded-port'], resolved.port),
    requestId: requestId(headers['x-request-id']),
    trace: nextTrace(headers.traceparent as string | undefined),
    client,
  };
  const view = { method, path: reqPath, headers, port: rc.port };
  const d = p.decide(resolved.serviceId, view, client);
  if ('status' in d) return reject(d, resolved.serviceId, rc);
  new H2Forward(p, stream, headers, rc, d, reqPath, grpc).begin();
}

class H2Forward {
  readonly #body: BodyReplay | undefined;
  readonly #headers: OutgoingHttpHeaders;
  readonly #tried = new Set<EndpointState>();
  #attempts = 0;
  #done = false;
  #current: ClientHttp2Stream | undefined;
  #state: EndpointState | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #bytesOut = 0;

  constructor(
    private readonly p: SidecarProxy,
    private readonly stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    private readonly rc: RequestContext,
    private readonly d: Decision,
    reqPath: string,
    private readonly grpc: boolean,
  ) {
    this.#body = stream.endAfterHeaders ? undefined : new BodyReplay(stream, p.config.limits.retryBufferBytes);
    const out: Record<string, unknown> = {};
    copyHeaders(headers, out);
    out[':method'] = rc.method;
    out[':path'] = rewritePath(rc.path, d, reqPath);
    out[':authority'] = rc.authority;
    out[':scheme'] = 'http';
    out['x-request-id'] = rc.requestId;
    out.traceparent = rc.trace.traceparent;
    out['x-forwarded-proto'] = 'http';
    if (rc.client) out['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${rc.client}` : rc.client;
    applyHeaderOps(out, d.route?.requestHeaders);
    this.#headers = out as OutgoingHttpHeaders;
  }

  begin(): void {
    this.p.requestStarted();
    this.stream.once('close', () => {
      if (!this.#done) this.#finish(499, 'client closed');
    });
    if (this.d.timeoutMs > 0) this.#deadline = setTimeout(() => this.#timeout(), this.d.timeoutMs);
    if (this.d.delayMs > 0) setTimeout(() => void this.#attempt(), this.d.delayMs);
    else void this.#attempt();
  }

  async #attempt(): Promise<void> {
    if (this.#done) return;
    const c = this.d.cluster;
    const limits = c.policy.breaker;
    if (c.active >= limits.maxRequests) return this.#overflow('maxRequests');
    if (c.pending >= limits.maxPendingRequests) return this.#overflow('maxPendingRequests');
    const t0 = performance.now();
    const st = c.pick(this.d.hash, this.#tried, t0);
    if (!st) return this.#fail(proxyError(503, 'WEFT-P003', `${c.key}: no healthy endpoint (${c.members()} in the cluster)`, { cluster: c.key }));
    this.#tried.add(st);
    this.#attempts++;
    const isRetry = this.#attempts > 1;
    if (isRetry) this.p.metrics.retries.inc({ service: this.d.serviceId });
    c.attemptStarted(st, isRetry);
    this.#state = st;
    let pending = true;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      c.attemptEnded(st, isRetry, pending);
    };
    let up: ClientHttp2Stream;
    try {
      const session = await c.h2.session(st.ep, this.p.config.mode === 'sidecar' ? this.rc.deliveryPort : undefined);
      pending = false;
      c.attemptConnected();
      if (this.#done) return release();
      up = session.request(this.#headers, { endStream: this.#body === undefined });
    } catch (e) {
      release();
      if (this.#done) return;
      c.service.report(st, { kind: 'local-failure' }, c.policy.outlier, performance.now());
      this.p.upstreamStats(this.d.serviceId, st.ep.key, st.ep.version).failures.inc();
      if (this.#canRetry('connect-failure')) return this.#retry();
      return this.#fail(proxyError(503, 'WEFT-P005', `${st.ep.key}: connect-failure (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cluster: c.key, endpoint: st.ep.key, failure: 'connect-failure' }));
    }
    this.#current = up;
    let perTry: NodeJS.Timeout | undefined;
    if (this.d.retries.perTryTimeoutMs > 0) perTry = setTimeout(() => up.close(constants.NGHTTP2_CANCEL), this.d.retries.perTryTimeoutMs);
    let responded = false;
    up.once('response', (h: IncomingHttpHeaders, flags: number) => {
      clearTimeout(perTry);
      responded = true;
      if (this.#done) {
        up.close(constants.NGHTTP2_CANCEL);
        return;
      }
      const end = performance.now();
      const status = Number(h[':status'] ?? 502);
      st.ewma.observe(end - t0, end);
      this.p.upstreamStats(this.d.serviceId, st.ep.key, st.ep.version).record(status, (end - t0) / 1000);
      c.service.report(st, { kind: 'status', status }, c.policy.outlier, end);
      if (this.#canRetry({ status })) {
        up.close(constants.NGHTTP2_CANCEL);
        release();
        return this.#retry();
      }
      this.#respond(up, h, (flags & HTTP2_FLAG_END_STREAM) !== 0, status, release);
    });
    up.once('close', () => {
      clearTimeout(perTry);
      if (responded || this.#done || this.#current !== up) return release();
      release();
      const refused = up.rstCode === NGHTTP2_REFUSED_STREAM;
      const timedOut = up.rstCode === constants.NGHTTP2_CANCEL && this.d.retries.perTryTimeoutMs > 0;
      c.service.report(st, { kind: 'local-failure' }, c.policy.outlier, performance.now());
      this.p.upstreamStats(this.d.serviceId, st.ep.key, st.ep.version).failures.inc();
      const failure = refused ? 'refused-stream' : timedOut ? 'timeout' : 'reset';
      if (this.#canRetry(failure)) return this.#retry();
      if (timedOut) return this.#timeout();
      this.#fail(proxyError(502, 'WEFT-P005', `${st.ep.key}: ${failure} (rst ${up.rstCode})`, { cluster: c.key, endpoint: st.ep.key, failure }));
    });
    up.on('error', () => undefined);
    if (this.#body) this.#body.pipeTo(up);
  }

  #canRetry(what: { status: number } | 'connect-failure' | 'reset' | 'timeout' | 'refused-stream'): boolean {
    const r = this.d.retries;
    if (this.#attempts > r.attempts) return false;
    if (this.#body && !this.#body.replayable) return false;
    return retriable(r, what) && retryBudgetAllows(this.p, this.d);
  }

  #retry(): void {
    this.#body?.detach();
    this.#current = undefined;
    setTimeout(() => void this.#attempt(), retryBackoffMs(this.#attempts));
  }

  #respond(up: ClientHttp2Stream, h: IncomingHttpHeaders, endStream: boolean, status: number, release: () => void): void {
    clearTimeout(this.#deadline);
    const s = this.stream;
    const out: Record<string, unknown> = { ':status': status };
    copyHeaders(h, out);
    out['x-request-id'] = this.rc.requestId;
    applyHeaderOps(out, this.d.route?.responseHeaders);
    if (s.destroyed || s.closed) {
      up.close(constants.NGHTTP2_CANCEL);
      release();
      return this.#finish(499, 'client closed');
    }
    if (endStream) {
      s.respond(out as OutgoingHttpHeaders, { endStream: true });
      release();
      return this.#finish(status, undefined);
    }
    let trailers: IncomingHttpHeaders | undefined;
    s.respond(out as OutgoingHttpHeaders, { waitForTrailers: true });
    s.once('wantTrailers', () => {
      const t: Record<string, unknown> = {};
      if (trailers) copyHeaders(trailers, t);
      s.sendTrailers(t as OutgoingHttpHeaders);
    });
    up.on('trailers', (t: IncomingHttpHeaders) => {
      trailers = t;
    });
    up.on('data', (c: Buffer) => {
      this.#bytesOut += c.length;
      if (!s.write(c)) up.pause();
    });
    s.on('drain', () => up.resume());
    up.once('end', () => {
      release();
      s.end();
      this.#finish(status, undefined);
    });
    up.once('close', () => {
      release();
      if (!this.#done) {
        s.close(constants.NGHTTP2_INTERNAL_ERROR);
        this.#finish(status, 'upstream reset mid-response');
      }
    });
  }

  #overflow(limit: string): void {
    this.p.metrics.overflow.inc({ service: this.d.serviceId, limit });
    this.#fail(proxyError(503, 'WEFT-P004', `${this.d.cluster.key}: ${limit} reached`, { cluster: this.d.cluster.key, limit }));
  }

  #timeout(): void {
    if (this.#done) return;
    this.#current?.close(constants.NGHTTP2_CANCEL);
    this.p.metrics.timeouts.inc({ route: this.d.routeName, service: this.d.serviceId });
    this.#fail(proxyError(504, 'WEFT-P006', `${this.d.cluster.key}: no response within ${this.d.timeoutMs}ms`, { cluster: this.d.cluster.key, timeoutMs: this.d.timeoutMs }));
  }

  #fail(reply: ProxyErrorReply): void {
    if (this.#done) return;
    this.#body?.detach();
    respondError(this.stream, reply, this.grpc, this.rc.requestId);
    this.#finish(reply.status, reply.code);
  }

  #finish(status: number, problem: string | undefined): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#deadline);
    if (status === 499) this.#current?.close(constants.NGHTTP2_CANCEL);
    this.p.requestEnded();
    const ms = performance.now() - this.rc.start;
    this.d.stats.record(status, ms / 1000);
    if (!this.p.accessLog.enabled) return;
    const st = this.#state;
    this.p.accessLog.log(
      this.p.accessRecord('h2c', this.rc.method, this.rc.authority, this.rc.path, status, Math.round(ms * 1000) / 1000, {
        service: this.d.serviceId,
        route: this.d.routeName,
        endpoint: st?.ep.key,
        version: st?.ep.version,
        attempts: this.#attempts,
        bytesIn: this.#body?.bytes ?? 0,
        bytesOut: this.#bytesOut,
        requestId: this.rc.requestId,
        traceId: this.rc.trace.traceId,
        spanId: this.rc.trace.spanId,
        client: this.rc.client,
        error: problem,
      }),
    );
  }
}

/**
 * Percent-encodes a grpc-message as the gRPC spec (PROTOCOL-HTTP2.md) says:
 * UTF-8 bytes, with only '%' and bytes outside 0x20..0x7E escaped, so clients
 * that decode with decodeURI (grpc-js) get the text back unchanged.
 */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x25 ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(byte);
  }
  return out;
}

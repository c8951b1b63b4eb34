// The HTTP/1.1 fast path. A client connection starts here, on the raw socket:
// request heads are read by the strict parser of http1-head.ts, the request
// goes through the same decisions as on the full path (resolver, access
// control, route rules, rate limit, faults, weighted destination, cluster,
// balancer, breaker, retries with budget, timeouts, outlier detection, access
// log, metrics, trace headers), and its bytes are written to a pooled
// keep-alive upstream connection (raw-pool.ts) as one buffer; the response head
// is parsed minimally, rewritten (hop-by-hop headers out, x-request-id and
// route edits in) and the body relayed as it comes (Content-Length or chunked,
// unchanged). No IncomingMessage, ServerResponse or HTTP client in between.
//
// Whatever the strict parser declines (HTTP/1.0, chunked or large request
// bodies, Expect, Upgrade, CONNECT, anything malformed or unusual) is handed,
// at a request boundary and with its bytes unread, to the full path (node:http
// + request-guard.ts + forward-http1.ts), which forwards it or answers 400; the
// connection stays there.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { isoNow } from './access-log.js';
import type { Deadline, Expirable } from './deadlines.js';
import type { EndpointState } from './endpoint-state.js';
import { proxyError, type ProxyErrorReply } from './error-response.js';
import { attemptFailureReply, overflowReply, retriable, retryBackoffMs, retryBudgetAllows, rewritePath, timeoutReply } from './forward-http1.js';
import { ChunkedScanner, LineKind, parseRequestHead, parseResponseHead, type RequestHead, type ResponseHead } from './http1-head.js';
import type { ConnectionUser, UpstreamConnection } from './raw-pool.js';
import { targetOf } from './request-guard.js';
import type { HeaderOps, RetryPolicy } from './rules/model.js';
import type { RequestView } from './rules/rule-set.js';
import { forwardedPort, type Decision, type RequestContext, type SidecarProxy } from './sidecar-proxy.js';
import { nextTrace, requestId } from './trace.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
/** Upstream response heads may be larger than request heads (cookies); still bounded. */
const MAX_RESPONSE_HEAD = 64 * 1024;

type Failure = 'connect-failure' | 'reset' | 'timeout';

/** What the fast path hands a connection to when it declines a request: the full path. */
export type Fallback = (socket: Socket, unread: Buffer) => void;

/** One client connection on the fast path. */
export class FastConnection {
  readonly #p: SidecarProxy;
  readonly #socket: Socket;
  readonly #fallback: Fallback;
  #buf: Buffer;
  /** Chunks not yet merged into #buf: merging (and parsing) waits until it can make progress. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes needed for the request at the head of #buf (its body is still arriving); 0: none awaited. */
  #wantBytes = 0;
  /** The head at the start of #buf is incomplete: look again when a LF arrives or the head limit is reached. */
  #wantLF = false;
  #busy: FastRequest | undefined;
  /** The last request's target and Host: their strings are reused when the next one repeats them. */
  #previous: { readonly target: string; readonly host: string | undefined } | undefined;
  #headTimer: NodeJS.Timeout | undefined;
  #gone = false;
  #closeAfter = false;
  readonly #onData = (c: Buffer) => this.#data(c);
  readonly #onClose = () => this.#closed();
  readonly #onTimeout = () => {
    if (!this.#busy) this.#socket.destroy();
  };
  /** Buffered input past which reading pauses while a request is in flight. */
  readonly #highWater: number;

  constructor(p: SidecarProxy, socket: Socket, first: Buffer, fallback: Fallback) {
    this.#p = p;
    this.#socket = socket;
    this.#fallback = fallback;
    this.#buf = first;
    p.fastConnections.add(this);
    this.#highWater = p.config.limits.maxHeaderBytes + p.config.limits.retryBufferBytes;
    socket.on('data', this.#onData);
    socket.on('close', this.#onClose);
    socket.on('timeout', this.#onTimeout);
    if (p.config.timeouts.clientIdleMs > 0) socket.setTimeout(p.config.timeouts.clientIdleMs);
    this.#next();
  }

  get socket(): Socket {
    return this.#socket;
  }

  /** The connection closes after the response in flight (the client asked, or the proxy is shutting down). */
  get closing(): boolean {
    return this.#closeAfter;
  }

  /** Shutdown: a connection between requests is closed now (as node:http's closeIdleConnections); a busy one after its response. */
  closeIdle(): void {
    this.#closeAfter = true;
    if (!this.#busy && !this.#gone) {
      this.#gone = true;
      this.#socket.end();
    }
  }

  #data(c: Buffer): void {
    // A slow sender (a byte at a time) must not make each byte cost a copy and a parse of all that came before.
    this.#pending.push(c);
    this.#pendingBytes += c.length;
    const size = this.#buf.length + this.#pendingBytes;
    if (this.#busy) {
      if (size > this.#highWater) this.#socket.pause();
      return;
    }
    if (this.#wantBytes > 0 && size < this.#wantBytes) return;
    if (this.#wantLF && c.indexOf(10) < 0 && size < this.#p.config.limits.maxHeaderBytes) return;
    this.#next();
  }

  #merge(): void {
    if (this.#pendingBytes === 0) return;
    // The usual case, one whole request in one read: that chunk is the buffer, no copy.
    if (this.#buf.length === 0 && this.#pending.length === 1) this.#buf = this.#pending[0]!;
    else this.#buf = Buffer.concat(this.#buf.length ? [this.#buf, ...this.#pending] : this.#pending);
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  /** Takes the next request off the buffer, if a whole one is there. */
  #next(): void {
    this.#merge();
    this.#wantBytes = 0;
    this.#wantLF = false;
    while (!this.#busy && !this.#gone && this.#buf.length > 0) {
      const r = parseRequestHead(this.#buf, 0, this.#p.config.limits.maxHeaderBytes, this.#previous);
      if (r.kind === 'incomplete') {
        this.#wantLF = true;
        this.#armHeadTimer();
        return;
      }
      if (r.kind === 'decline') return this.#handOver();
      const head = r.head;
      this.#previous = { target: head.target, host: head.host };
      if (head.contentLength > this.#p.config.limits.retryBufferBytes) return this.#handOver();
      const total = head.headBytes + head.contentLength;
      // The head is whole: the headers timeout no longer applies (bodies have none, as on the full path: requestTimeout 0).
      clearTimeout(this.#headTimer);
      this.#headTimer = undefined;
      if (this.#buf.length < total) {
        this.#wantBytes = total;
        return;
      }
      const target = targetOf(head.target, head.host);
      if (typeof target === 'string') return this.#handOver(); // the full path answers the 400
      const body = head.contentLength > 0 ? this.#buf.subarray(head.headBytes, total) : undefined;
      this.#buf = this.#buf.length === total ? EMPTY : this.#buf.subarray(total);
      if (head.close) this.#closeAfter = true;
      const req = new FastRequest(this.#p, this, head, target.authority, target.path, body);
      this.#busy = req;
      req.begin();
    }
    if (this.#buf.length === 0 && this.#closeAfter && !this.#busy) this.#socket.end();
  }

  #armHeadTimer(): void {
    const ms = this.#p.config.timeouts.headersMs;
    if (this.#headTimer || ms <= 0) return;
    this.#headTimer = setTimeout(() => {
      this.#headTimer = undefined;
      if (this.#busy || this.#gone) return;
      this.#socket.end('HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      this.#socket.destroySoon();
    }, ms);
  }

  /** The full path takes the connection from here, with the bytes not yet consumed. */
  #handOver(): void {
    clearTimeout(this.#headTimer);
    this.#gone = true;
    const s = this.#socket;
    s.removeListener('data', this.#onData);
    s.removeListener('close', this.#onClose);
    s.removeListener('timeout', this.#onTimeout);
    s.setTimeout(0);
    this.#p.fastConnections.delete(this);
    this.#merge();
    const unread = this.#buf;
    this.#buf = EMPTY;
    this.#p.metrics.fastPathFallbacks.inc();
    this.#fallback(s, unread);
  }

  /** The request in flight finished (its response is written or the connection is being cut). */
  requestDone(req: FastRequest, close: boolean): void {
    if (this.#busy !== req) return;
    this.#busy = undefined;
    if (close || this.#closeAfter) {
      this.#gone = true;
      this.#socket.end();
      return;
    }
    if (this.#socket.isPaused()) this.#socket.resume();
    this.#next();
  }

  #closed(): void {
    this.#gone = true;
    this.#p.fastConnections.delete(this);
    clearTimeout(this.#headTimer);
    this.#busy?.clientClosed();
  }
}

const EMPTY = Buffer.alloc(0);
const NO_HEADERS: Readonly<Record<string, string | string[] | undefined>> = Object.freeze({});

/** Buffer#latin1Write (untyped in @types/node): bytes written. */
function latin1Write(buf: Buffer, s: string, off: number): number {
  return (buf as unknown as { latin1Write(s: string, o: number, l: number): number }).latin1Write(s, off, buf.length - off);
}

/**
 * The byte ranges [start, end, start, end, …] of a head's header lines that are
 * forwarded unchanged, adjacent lines merged: all but the dropped ones, X-Forwarded-Port
 * when the proxy sets its own, and those the Connection header names.
 */
function keptRuns(head: RequestHead | ResponseHead, dropForwardedPort: boolean): number[] {
  const runs: number[] = [];
  const tokens = head.connectionTokens;
  const n = head.count;
  for (let i = 0; i < n; i++) {
    const kind = head.kind(i);
    if (kind === LineKind.Drop || (kind === LineKind.ForwardedPort && dropForwardedPort)) continue;
    if (tokens.length && tokens.includes(head.lowerName(i))) continue;
    const s = head.lineStart(i);
    const last = runs.length - 1;
    if (last > 0 && runs[last] === s) runs[last] = head.lineEnd(i);
    else runs.push(s, head.lineEnd(i));
  }
  return runs;
}

/** What route matching sees of a fast-path request: the headers record is made only if a rule reads it. */
class LazyView implements RequestView {
  constructor(
    readonly head: RequestHead,
    readonly path: string,
    readonly port: number | undefined,
  ) {}
  get method(): string {
    return this.head.method;
  }
  get headers(): Readonly<Record<string, string | string[] | undefined>> {
    return this.head.headers;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Applies route header edits to a [name, value, …] list (names compared lower-case). */
function editList(list: string[], ops: HeaderOps | undefined): string[] {
  if (!ops) return list;
  const drop = new Set([...ops.remove, ...ops.set.map(([k]) => k)]);
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) if (!drop.has(list[i]!.toLowerCase())) out.push(list[i]!, list[i + 1]!);
  for (const [k, v] of ops.set) out.push(k, v);
  for (const [k, v] of ops.add) out.push(k, v);
  return out;
}

function errorBytes(reply: ProxyErrorReply, requestId: string | undefined, close: boolean): string {
  return (
    `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? 'Error'}\r\n` +
    `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(reply.body)}\r\nx-weft-error: ${reply.code}\r\n` +
    (requestId ? `x-request-id: ${requestId}\r\n` : '') +
    (close ? 'connection: close\r\n' : '') +
    `\r\n${reply.body}`
  );
}

/** One request on the fast path: decisions, then attempts until one answers. */
export class FastRequest implements Expirable {
  readonly #p: SidecarProxy;
  readonly #conn: FastConnection;
  readonly #head: RequestHead;
  readonly #authority: string;
  readonly #path: string;
  readonly #body: Buffer | undefined;
  readonly #start = performance.now();
  #rc: RequestContext | undefined;
  #d: Decision | undefined;
  #upstreamBytes: Buffer | undefined;
  /** Endpoints tried so far (made at the first retry: most requests need one attempt). */
  #tried: Set<EndpointState> | undefined;
  #attempts = 0;
  #done = false;
  #started = false;
  #current: FastAttempt | undefined;
  #state: EndpointState | undefined;
  #deadline: Deadline | undefined;
  #upstreamMs: number | undefined;
  bytesOut = 0;

  constructor(p: SidecarProxy, conn: FastConnection, head: RequestHead, authority: string, path: string, body: Buffer | undefined) {
    this.#p = p;
    this.#conn = conn;
    this.#head = head;
    this.#authority = authority;
    this.#path = path;
    this.#body = body;
  }

  get proxy(): SidecarProxy {
    return this.#p;
  }
  get client(): Socket {
    return this.#conn.socket;
  }
  get decision(): Decision {
    return this.#d!;
  }
  get context(): RequestContext {
    return this.#rc!;
  }
  get method(): string {
    return this.#head.method;
  }
  get done(): boolean {
    return this.#done;
  }
  /** The client asked to close after this response. */
  get clientClose(): boolean {
    return this.#head.close || this.#conn.closing;
  }

  begin(): void {
    const p = this.#p;
    const head = this.#head;
    const socket = this.#conn.socket;
    const resolved = p.resolve('http', this.#authority);
    if ('status' in resolved) return this.#reject(resolved, undefined, undefined);
    const qi = this.#path.indexOf('?');
    const reqPath = qi < 0 ? this.#path : this.#path.slice(0, qi);
    // The headers record is built only when some header the proxy reads by name (or a route rule) needs it.
    const h = head.hasProxyHeaders ? head.headers : NO_HEADERS;
    const rc: RequestContext = {
      protocol: 'http/1.1',
      start: this.#start,
      method: head.method,
      authority: this.#authority,
      path: this.#path,
      port: resolved.port,
      deliveryPort: forwardedPort(h['x-forwarded-port'], resolved.port),
      requestId: requestId(h['x-request-id']),
      trace: nextTrace(h.traceparent as string | undefined),
      client: socket.remoteAddress,
    };
    this.#rc = rc;
    const view = new LazyView(head, reqPath, rc.port);
    const d = p.decide(resolved.serviceId, view, rc.client);
    if ('status' in d) {
      if (d.code !== 'WEFT-P007' && d.code !== 'WEFT-P008') return this.#reject(d, resolved.serviceId, undefined);
      const route = p.rules.select(resolved.serviceId, view)?.name ?? 'default';
      p.routeStats(route, resolved.serviceId).record(d.status, (performance.now() - this.#start) / 1000);
      return this.#reject(d, resolved.serviceId, route);
    }
    this.#d = d;
    this.#upstreamBytes = this.#serialize(rewritePath(this.#path, d, reqPath), rc, d);
    this.#started = true;
    p.requestStarted();
    if (d.timeoutMs > 0) this.#deadline = p.deadlines.arm(d.timeoutMs, this, this.#start);
    if (d.delayMs > 0) setTimeout(() => this.#attempt(), d.delayMs);
    else this.#attempt();
  }

  /**
   * Request line and headers for the upstream (as the full path's upstreamRequestHeaders), then the body: one buffer.
   * The client's header lines that go on unchanged are copied as bytes, runs of adjacent lines at once.
   */
  #serialize(path: string, rc: RequestContext, d: Decision): Buffer {
    const head = this.#head;
    const ops = d.route?.requestHeaders;
    let own = `host: ${rc.authority}\r\nx-request-id: ${rc.requestId}\r\ntraceparent: ${rc.trace.traceparent}\r\nx-forwarded-proto: http\r\n`;
    if (rc.client) {
      const xff = head.hasProxyHeaders ? head.headers['x-forwarded-for'] : undefined;
      own += `x-forwarded-for: ${xff ? `${xff}, ${rc.client}` : rc.client}\r\n`;
    }
    if (rc.deliveryPort !== undefined) own += `x-forwarded-port: ${rc.deliveryPort}\r\n`;
    const requestLine = `${head.method} ${path} HTTP/1.1\r\n`;
    if (ops) return this.#withBody(requestLine + this.#editedHeaders(rc, ops) + '\r\n');
    const tail = own + '\r\n';
    const runs = keptRuns(head, rc.deliveryPort !== undefined);
    let size = requestLine.length + tail.length + (this.#body?.length ?? 0);
    for (let i = 0; i < runs.length; i += 2) size += runs[i + 1]! - runs[i]!;
    const out = Buffer.allocUnsafe(size);
    let off = latin1Write(out, requestLine, 0);
    for (let i = 0; i < runs.length; i += 2) off += head.buf.copy(out, off, runs[i]!, runs[i + 1]!);
    off += latin1Write(out, tail, off);
    if (this.#body) this.#body.copy(out, off);
    return out;
  }

  /** The header section when the route edits headers: as a [name, value] list, edited, then written out. */
  #editedHeaders(rc: RequestContext, ops: HeaderOps): string {
    const head = this.#head;
    const raw = head.raw;
    const tokens = head.connectionTokens;
    let list: string[] = [];
    for (let i = 0; i < head.count; i++) {
      const kind = head.kind(i);
      if (kind === LineKind.Drop || (kind === LineKind.ForwardedPort && rc.deliveryPort !== undefined)) continue;
      if (tokens.length && tokens.includes(head.lowerName(i))) continue;
      list.push(raw[2 * i]!, raw[2 * i + 1]!);
    }
    list.push('host', rc.authority, 'x-request-id', rc.requestId, 'traceparent', rc.trace.traceparent, 'x-forwarded-proto', 'http');
    if (rc.client) {
      const xff = head.headers['x-forwarded-for'];
      list.push('x-forwarded-for', xff ? `${xff}, ${rc.client}` : rc.client);
    }
    if (rc.deliveryPort !== undefined) list.push('x-forwarded-port', String(rc.deliveryPort));
    list = editList(list, ops);
    let s = '';
    for (let i = 0; i < list.length; i += 2) s += `${list[i]}: ${list[i + 1]}\r\n`;
    return s;
  }

  #withBody(s: string): Buffer {
    const body = this.#body;
    if (!body) return Buffer.from(s, 'latin1');
    const out = Buffer.allocUnsafe(s.length + body.length);
    const n = latin1Write(out, s, 0);
    body.copy(out, n);
    return out;
  }

  get upstreamBytes(): Buffer {
    return this.#upstreamBytes!;
  }

  #reject(reply: ProxyErrorReply, service: string | undefined, route: string | undefined): void {
    const rc = this.#rc;
    this.#conn.socket.write(errorBytes(reply, rc?.requestId, this.clientClose));
    this.#done = true;
    const p = this.#p;
    if (p.accessLog.enabled) {
      p.accessLog.log(
        p.accessRecord('http/1.1', this.#head.method, this.#head.host ?? '-', this.#head.target, reply.status, round(performance.now() - this.#start), {
          error: reply.code,
          service,
          route,
          requestId: rc?.requestId,
          traceId: rc?.trace.traceId,
          spanId: rc?.trace.spanId,
          client: this.#conn.socket.remoteAddress,
        }),
      );
    }
    this.#conn.requestDone(this, false);
  }

  #attempt(): void {
    if (this.#done) return;
    const d = this.#d!;
    const c = d.cluster;
    const limits = c.policy.breaker;
    if (c.active >= limits.maxRequests) return this.#overflow('maxRequests');
    if (c.pending >= limits.maxPendingRequests) return this.#overflow('maxPendingRequests');
    const now = performance.now();
    if (this.#state) (this.#tried ??= new Set()).add(this.#state);
    const st = c.pick(d.hash, this.#tried, now);
    if (!st) {
      const members = c.members();
      return this.#fail(proxyError(503, 'WEFT-P003', `${c.key}: no healthy endpoint (${members} in the cluster)`, { cluster: c.key, endpoints: members }));
    }
    this.#attempts++;
    const isRetry = this.#attempts > 1;
    if (isRetry) this.#p.metrics.retries.inc({ service: d.serviceId });
    c.attemptStarted(st, isRetry);
    this.#state = st;
    const a = new FastAttempt(this, st, now, isRetry);
    this.#current = a;
    a.start();
  }

  isCurrent(a: FastAttempt): boolean {
    return this.#current === a;
  }

  attemptFailed(st: EndpointState, failure: Failure, err: Error & { code?: string }): void {
    if (this.#done) return;
    const d = this.#d!;
    const c = d.cluster;
    this.#p.upstreamStats(d.serviceId, st.ep.key, st.ep.version).failures.inc();
    c.service.report(st, { kind: 'local-failure' }, c.policy.outlier, performance.now());
    if (this.#canRetry(failure)) return this.#retry();
    if (failure === 'timeout') return this.#timeout();
    this.#fail(attemptFailureReply(d, st, failure, err));
  }

  /** The response head arrived: false when it is retried instead (the attempt drops its connection). */
  attemptResponded(st: EndpointState, status: number, t0: number): boolean {
    if (this.#done) return false;
    const d = this.#d!;
    const c = d.cluster;
    const end = performance.now();
    st.ewma.observe(end - t0, end);
    this.#p.upstreamStats(d.serviceId, st.ep.key, st.ep.version).record(status, (end - t0) / 1000);
    c.service.report(st, { kind: 'status', status }, c.policy.outlier, end);
    this.#upstreamMs = end - t0;
    if (this.#canRetry({ status })) {
      this.#retry();
      return false;
    }
    this.#deadline?.cancel();
    return true;
  }

  #canRetry(what: { status: number } | Failure): boolean {
    const d = this.#d!;
    const r: RetryPolicy = d.retries;
    if (this.#attempts > r.attempts) return false;
    return retriable(r, what) && retryBudgetAllows(this.#p, d);
  }

  #retry(): void {
    this.#current?.cancel();
    this.#current = undefined;
    setTimeout(() => this.#attempt(), retryBackoffMs(this.#attempts));
  }

  #overflow(limit: string): void {
    this.#fail(overflowReply(this.#p, this.#d!, limit));
  }

  /** Expirable: the route timeout passed. */
  expire(): void {
    if (this.#done) return;
    this.#current?.cancel();
    this.#timeout();
  }

  #timeout(): void {
    this.#fail(timeoutReply(this.#p, this.#d!, this.#attempts));
  }

  #fail(reply: ProxyErrorReply): void {
    if (this.#done) return;
    this.#deadline?.cancel();
    this.#current?.cancel();
    this.#conn.socket.write(errorBytes(reply, this.#rc!.requestId, this.clientClose));
    this.finish(reply.status, undefined, reply.code, false);
  }

  /** The client went away before the response ended. */
  clientClosed(): void {
    if (this.#done) return;
    this.#current?.cancel();
    this.finish(499, 'client closed', undefined, true);
  }

  finish(status: number, problem: string | undefined, code: string | undefined, close: boolean): void {
    if (this.#done) return;
    this.#done = true;
    this.#deadline?.cancel();
    const p = this.#p;
    if (this.#started) p.requestEnded();
    const ms = performance.now() - this.#start;
    const d = this.#d!;
    d.stats.record(status, ms / 1000);
    if (p.accessLog.enabled) {
      const rc = this.#rc!;
      const st = this.#state;
      // The whole record as one literal (no defaults merged in): the fields in AccessRecord order.
      p.accessLog.log({
        time: isoNow(),
        msg: 'access',
        protocol: rc.protocol,
        method: rc.method,
        authority: rc.authority,
        path: rc.path,
        status,
        durationMs: round(ms),
        service: d.serviceId,
        route: d.routeName,
        endpoint: st?.ep.key,
        version: st?.ep.version,
        attempts: this.#attempts,
        upstreamMs: this.#upstreamMs === undefined ? undefined : round(this.#upstreamMs),
        bytesIn: this.#body?.length ?? 0,
        bytesOut: this.bytesOut,
        requestId: rc.requestId,
        traceId: rc.trace.traceId,
        spanId: rc.trace.spanId,
        client: rc.client,
        error: code ?? problem,
        flags: d.delayMs > 0 ? 'delayed' : undefined,
      });
    }
    this.#conn.requestDone(this, close);
  }
}

/** Where a response body ends. */
const enum Framing {
  None,
  Length,
  Chunked,
  UntilClose,
}

/** One try on one endpoint over a pooled connection. */
class FastAttempt implements ConnectionUser {
  #conn: UpstreamConnection | undefined;
  #cancelWait: (() => void) | undefined;
  #released = false;
  #pending = true;
  #cancelled = false;
  #perTry: NodeJS.Timeout | undefined;
  /** Response bytes before the head is whole. */
  #buf: Buffer | undefined;
  #resp: ResponseHead | undefined;
  #framing = Framing.None;
  #left = 0;
  #chunks: ChunkedScanner | undefined;
  #committed = false;
  #gotBytes = false;
  #redispatched = false;
  #onDrain: (() => void) | undefined;

  constructor(
    private readonly r: FastRequest,
    private readonly st: EndpointState,
    private readonly t0: number,
    private readonly isRetry: boolean,
  ) {}

  start(): void {
    const r = this.r;
    const d = r.decision;
    const perTryMs = d.retries.perTryTimeoutMs;
    if (perTryMs > 0) this.#perTry = setTimeout(() => this.#failed('timeout', Object.assign(new Error('per-try timeout'), { code: 'WEFT_PER_TRY_TIMEOUT' })), perTryMs);
    this.#acquire();
  }

  #acquire(): void {
    const r = this.r;
    const pool = r.decision.cluster.raw.pool(this.st.ep, r.proxy.config.mode === 'sidecar' ? r.context.deliveryPort : undefined);
    this.#cancelWait = pool.acquire((c) => this.#connected(c));
  }

  #connected(c: UpstreamConnection | Error): void {
    this.#cancelWait = undefined;
    if (this.#pending) {
      this.#pending = false;
      this.r.decision.cluster.attemptConnected();
    }
    if (c instanceof Error) return this.#failed('connect-failure', c);
    if (this.#cancelled) return c.release(true);
    this.#conn = c;
    c.user = this;
    c.write(this.r.upstreamBytes);
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.r.decision.cluster.attemptEnded(this.st, this.isRetry, this.#pending);
    this.#pending = false;
    clearTimeout(this.#perTry);
  }

  /** A retry, the deadline or the client leaving: drop this try (its connection is no longer in a known state). */
  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#cancelWait?.();
    this.#cancelWait = undefined;
    this.#dropConn();
    this.#release();
  }

  #dropConn(): void {
    const c = this.#conn;
    this.#conn = undefined;
    if (c) {
      if (this.#onDrain) this.r.client.removeListener('drain', this.#onDrain);
      c.destroy();
    }
  }

  #failed(failure: Failure, err: Error & { code?: string }): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#cancelWait?.();
    this.#dropConn();
    this.#release();
    if (this.#committed) {
      this.r.client.destroy();
      this.r.finish(this.#resp!.status, `upstream ${failure} mid-response`, undefined, true);
      return;
    }
    if (this.r.isCurrent(this)) this.r.attemptFailed(this.st, failure, err);
  }

  /** ConnectionUser: response bytes. */
  onData(chunk: Buffer): void {
    this.#data(chunk);
  }

  /** ConnectionUser: the connection closed or failed. */
  onClose(err: (Error & { code?: string }) | undefined, c: UpstreamConnection): void {
    this.#upstreamClosed(c, err);
  }

  #upstreamClosed(c: UpstreamConnection, err: (Error & { code?: string }) | undefined): void {
    if (this.#cancelled || this.#conn !== c) return;
    this.#conn = undefined;
    if (this.#framing === Framing.UntilClose && this.#committed) return this.#complete(false);
    // A kept-alive connection the upstream closed as the request went out (its idle timer won the race):
    // nothing was answered, so an idempotent request goes again on a fresh connection, once (as undici does).
    if (!this.#gotBytes && c.uses > 0 && !this.#redispatched && IDEMPOTENT.has(this.r.method)) {
      this.#redispatched = true;
      return this.#acquire();
    }
    this.#failed('reset', err ?? new Error('upstream closed'));
  }

  #data(chunk: Buffer): void {
    if (this.#cancelled) return;
    this.#gotBytes = true;
    if (!this.#resp) {
      const buf = this.#buf ? Buffer.concat([this.#buf, chunk]) : chunk;
      let off = 0;
      for (;;) {
        const h = parseResponseHead(buf, off, MAX_RESPONSE_HEAD);
        if (h.kind === 'incomplete') {
          this.#buf = off === 0 ? buf : buf.subarray(off);
          return;
        }
        if (h.kind === 'decline') return this.#failed('reset', Object.assign(new Error(`bad upstream response: ${h.why}`), { code: 'WEFT_BAD_RESPONSE' }));
        off += h.head.headBytes;
        if (h.head.status >= 200) {
          this.#buf = undefined;
          return this.#head(h.head, buf, off);
        }
        if (h.head.status === 101) return this.#failed('reset', Object.assign(new Error('unexpected upgrade'), { code: 'WEFT_BAD_RESPONSE' }));
        // 1xx: informational, not relayed.
        if (off >= buf.length) {
          this.#buf = undefined;
          return;
        }
      }
    }
    this.#body(chunk, 0);
  }

  #head(resp: ResponseHead, buf: Buffer, off: number): void {
    clearTimeout(this.#perTry);
    const r = this.r;
    if (!r.attemptResponded(this.st, resp.status, this.t0)) {
      // Retried: the FastRequest already cancelled this attempt (and dropped the connection).
      return;
    }
    this.#resp = resp;
    this.#committed = true;
    const noBody = r.method === 'HEAD' || resp.status === 204 || resp.status === 304;
    this.#framing = noBody ? Framing.None : resp.chunked ? Framing.Chunked : resp.contentLength >= 0 ? Framing.Length : Framing.UntilClose;
    if (this.#framing === Framing.Length) this.#left = resp.contentLength;
    if (this.#framing === Framing.Chunked) this.#chunks = new ChunkedScanner();
    const closeClient = r.clientClose || this.#framing === Framing.UntilClose;
    // Head and the body bytes that came with it leave in one write.
    const n = this.#bodyBytes(buf, off, buf.length);
    if (n < 0) return this.#failed('reset', Object.assign(new Error('bad chunked framing'), { code: 'WEFT_BAD_RESPONSE' }));
    const ops = r.decision.route?.responseHeaders;
    let out: Buffer;
    if (ops) {
      const headStr = this.#editedClientHead(resp, ops, closeClient);
      out = Buffer.allocUnsafe(headStr.length + n);
      const hl = latin1Write(out, headStr, 0);
      buf.copy(out, hl, off, off + n);
    } else {
      const tail = this.#clientHeadTail(closeClient);
      const runs = keptRuns(resp, false);
      let size = resp.statusLineEnd - resp.start + tail.length + n;
      for (let i = 0; i < runs.length; i += 2) size += runs[i + 1]! - runs[i]!;
      out = Buffer.allocUnsafe(size);
      let at = buf.copy(out, 0, resp.start, resp.statusLineEnd);
      out[7] = 0x31; // HTTP/1.0 upstreams: the client talks HTTP/1.1 with the proxy
      for (let i = 0; i < runs.length; i += 2) at += buf.copy(out, at, runs[i]!, runs[i + 1]!);
      at += latin1Write(out, tail, at);
      buf.copy(out, at, off, off + n);
    }
    r.bytesOut += n;
    const flushed = r.client.write(out);
    if (off + n < buf.length) this.#surplus = true;
    this.#afterWrite(flushed);
  }

  #surplus = false;

  /** How many bytes of buf[from..to) are body; -1 on a framing error. Updates the framing state. */
  #bodyBytes(buf: Buffer, from: number, to: number): number {
    switch (this.#framing) {
      case Framing.None:
        return 0;
      case Framing.UntilClose:
        return to - from;
      case Framing.Length: {
        const n = Math.min(this.#left, to - from);
        this.#left -= n;
        return n;
      }
      case Framing.Chunked:
        return this.#chunks!.feed(buf, from, to);
    }
  }

  #ended(): boolean {
    switch (this.#framing) {
      case Framing.None:
        return true;
      case Framing.UntilClose:
        return false;
      case Framing.Length:
        return this.#left === 0;
      case Framing.Chunked:
        return this.#chunks!.done;
    }
  }

  #body(chunk: Buffer, from: number): void {
    const n = this.#bodyBytes(chunk, from, chunk.length);
    if (n < 0) return this.#failed('reset', Object.assign(new Error('bad chunked framing'), { code: 'WEFT_BAD_RESPONSE' }));
    if (from + n < chunk.length) this.#surplus = true;
    this.r.bytesOut += n;
    const flushed = n === 0 ? true : this.r.client.write(n === chunk.length ? chunk : chunk.subarray(from, from + n));
    this.#afterWrite(flushed);
  }

  #afterWrite(flushed: boolean): void {
    if (this.#ended()) return this.#complete(!this.#surplus);
    if (!flushed && this.#conn) {
      // Backpressure: stop reading the upstream until the client drains.
      const conn = this.#conn;
      conn.stream.pause();
      if (!this.#onDrain) {
        this.#onDrain = () => this.#conn?.stream.resume();
        this.r.client.on('drain', this.#onDrain);
      }
    }
  }

  #complete(reusable: boolean): void {
    const c = this.#conn;
    this.#conn = undefined;
    if (this.#onDrain) this.r.client.removeListener('drain', this.#onDrain);
    this.#release();
    this.#cancelled = true;
    const resp = this.#resp!;
    if (c) {
      c.stream.resume();
      c.release(reusable && !resp.close);
    }
    this.r.finish(resp.status, undefined, undefined, this.#framing === Framing.UntilClose);
  }

  /**
   * What follows the upstream's kept header lines in the client head: x-request-id, the framing
   * (chunked is relayed as is) and connection: close when this is the connection's last response.
   */
  #clientHeadTail(close: boolean): string {
    let s = `x-request-id: ${this.r.context.requestId}\r\n`;
    if (this.#framing === Framing.Chunked) s += 'transfer-encoding: chunked\r\n';
    if (close) s += 'connection: close\r\n';
    return s + '\r\n';
  }

  /** The client head as a string when the route edits response headers. */
  #editedClientHead(resp: ResponseHead, ops: HeaderOps, close: boolean): string {
    const raw = resp.raw;
    const tokens = resp.connectionTokens;
    let list: string[] = [];
    for (let i = 0; i < resp.count; i++) {
      if (resp.kind(i) !== LineKind.Keep || (tokens.length && tokens.includes(resp.lowerName(i)))) continue;
      list.push(raw[2 * i]!, raw[2 * i + 1]!);
    }
    list.push('x-request-id', this.r.context.requestId);
    list = editList(list, ops);
    let s = `HTTP/1.1 ${resp.status} ${resp.reason}\r\n`;
    for (let i = 0; i < list.length; i += 2) s += `${list[i]}: ${list[i + 1]}\r\n`;
    if (this.#framing === Framing.Chunked) s += 'transfer-encoding: chunked\r\n';
    if (close) s += 'connection: close\r\n';
    return s + '\r\n';
  }
}

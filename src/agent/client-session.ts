// One client connection from accept to splice: reads the handshake request
// through the kernel parser (any split of bytes), decides the reply
// (UNKNOWN_SERVICE → FORBIDDEN → UNAVAILABLE → connect), opens the upstream with
// failover across instances, then replies OK, delivers bytes the client sent
// after its request, and hands both sockets to a Splice.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WeftError } from '../errors.js';
import type { AgentMetrics } from './agent-metrics.js';
import { replyCodeName } from './agent-metrics.js';
import { HandshakeParser, NEED_MORE, ReplyCode, encodeReply } from './kernels.js';
import type { Logger } from './log.js';
import type { Route, ServiceRouter } from './routing.js';
import { Splice } from './splice.js';
import { UpstreamError, type ClientIdentity, type Upstream } from './upstream.js';
import type { UsesMatcher } from './uses-matcher.js';

/** The meshlet a client socket belongs to; fields read live so a reload applies to new handshakes. */
export interface ClientSource {
  readonly identity: ClientIdentity;
  readonly uses: UsesMatcher;
  readonly idleMs: number;
}

export interface SessionContext {
  readonly handshakeMs: number;
  readonly connectMs: number;
  readonly router: ServiceRouter;
  readonly upstream: Upstream;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  readonly parsers: ParserPool;
  /** A stream was spliced / has ended: the callee tracks it for drain and metrics. */
  streamStarted(splice: Splice, stream: StreamInfo): void;
  streamEnded(splice: Splice, stream: StreamInfo): void;
  handshakeSettled(): void;
}

/** What a spliced stream is, for metrics: made once per stream. */
export interface StreamInfo {
  readonly serviceId: string;
  readonly version: string;
  readonly source: ClientSource;
  /** Metric labels {service, version}, shared by the stream's updates. */
  readonly labels: { readonly service: string; readonly version: string };
}

/** Reply bytes made once: [1, code]. */
const REPLIES = new Map<number, Buffer>(
  Object.values(ReplyCode)
    .filter((v): v is number => typeof v === 'number')
    .map((code) => [code, Buffer.from(encodeReply(code))]),
);

function replyBytes(code: ReplyCode): Buffer {
  return REPLIES.get(code) ?? Buffer.from(encodeReply(code));
}

/** Parsers are reused across connections (reset between uses). */
export class ParserPool {
  readonly #free: HandshakeParser[] = [];
  take(): HandshakeParser {
    return this.#free.pop() ?? new HandshakeParser();
  }
  give(p: HandshakeParser): void {
    p.reset();
    if (this.#free.length < 1024) this.#free.push(p);
  }
}

/** Sends a final non-OK reply, ends our side, discards what the client still sends, and closes it. */
export function refuse(socket: Socket, code: ReplyCode, lingerMs: number): void {
  socket.removeAllListeners('data');
  socket.on('error', () => socket.destroy());
  socket.end(replyBytes(code));
  socket.resume();
  // The client may never close its side; don't keep the socket forever.
  socket.setTimeout(lingerMs, () => socket.destroy());
}

export class ClientSession {
  readonly #ctx: SessionContext;
  readonly #socket: Socket;
  readonly #source: ClientSource;
  readonly #started = performance.now();
  #parser: HandshakeParser | undefined;
  #timer: NodeJS.Timeout | undefined;
  #connectAbort: AbortController | undefined;
  #settled = false;

  constructor(ctx: SessionContext, socket: Socket, source: ClientSource) {
    this.#ctx = ctx;
    this.#socket = socket;
    this.#source = source;
    this.#parser = ctx.parsers.take();
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onClose);
    socket.on('error', this.#onError);
    this.#timer = setTimeout(this.#onTimeout, ctx.handshakeMs);
  }

  readonly #onData = (chunk: Buffer): void => {
    try {
      const parser = this.#parser!;
      const code = parser.push(chunk);
      if (code === NEED_MORE) return;
      const serviceId = code === ReplyCode.OK ? parser.serviceId : '';
      const rest = parser.rest;
      // Copy: the parser's view must not outlive its reuse by the next connection.
      const early = code === ReplyCode.OK && rest.length ? Buffer.from(rest) : undefined;
      this.#stopReading();
      if (code !== ReplyCode.OK) return this.#fail(code);
      this.#route(serviceId, early);
    } catch (e) {
      this.#internal(e);
    }
  };

  /** Anything unexpected: reply INTERNAL and log a structured error. */
  #internal(e: unknown): void {
    this.#stopReading();
    this.#ctx.log.error('client connection failed', { error: new WeftError('WEFT-A007', e instanceof Error ? e.message : String(e)) });
    this.#fail(ReplyCode.INTERNAL);
  }

  /** The client half-closed before its request was whole. */
  readonly #onEnd = (): void => {
    if (this.#parser) {
      this.#stopReading();
      this.#fail(ReplyCode.MALFORMED);
    }
  };

  readonly #onTimeout = (): void => {
    this.#timer = undefined;
    this.#stopReading();
    this.#fail(ReplyCode.MALFORMED);
  };

  readonly #onError = (): void => {
    // 'close' follows and cleans up.
  };

  readonly #onClose = (): void => {
    this.#stopReading();
    this.#connectAbort?.abort();
    this.#settle(undefined);
  };

  #stopReading(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#socket.off('data', this.#onData);
    this.#socket.off('end', this.#onEnd);
    this.#socket.pause();
    this.#releaseParser();
  }

  #releaseParser(): void {
    if (!this.#parser) return;
    this.#ctx.parsers.give(this.#parser);
    this.#parser = undefined;
  }

  /** Counts the handshake once, with its reply code (undefined = the client left first). */
  #settle(code: ReplyCode | undefined): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#ctx.handshakeSettled();
    const name = code === undefined ? 'CLIENT_CLOSED' : replyCodeName(code);
    this.#ctx.metrics.handshakes.inc({ code: name });
    this.#ctx.metrics.handshakeSeconds.observe({ code: name }, (performance.now() - this.#started) / 1000);
  }

  #fail(code: ReplyCode): void {
    this.#settle(code);
    this.#socket.off('close', this.#onClose);
    this.#socket.off('error', this.#onError);
    if (!this.#socket.destroyed) refuse(this.#socket, code, this.#ctx.handshakeMs);
  }

  #route(serviceId: string, early: Buffer | undefined): void {
    const { router } = this.#ctx;
    const route = router.route(serviceId);
    if (!route) return this.#fail(ReplyCode.UNKNOWN_SERVICE);
    if (!this.#source.uses.allows(serviceId)) return this.#fail(ReplyCode.FORBIDDEN);
    const first = router.pick(serviceId);
    if (first < 0) return this.#fail(ReplyCode.UNAVAILABLE);
    const abort = new AbortController();
    this.#connectAbort = abort;
    const timer = setTimeout(() => abort.abort(), this.#ctx.connectMs);
    const connectStarted = performance.now();
    const tried = new Set<number>();
    let refusedOrSlow = false;
    let allUnknown = true;

    const attempt = (index: number): void => {
      const endpoint = route.endpoints[index]!;
      this.#ctx.upstream.open(endpoint, serviceId, this.#source.identity, abort.signal).then(
        (stream) => {
          clearTimeout(timer);
          this.#ctx.metrics.connectSeconds.observe({ result: 'ok' }, (performance.now() - connectStarted) / 1000);
          this.#connected(route, index, stream, early);
        },
        (err: unknown) => {
          if (this.#socket.destroyed) {
            clearTimeout(timer);
            return; // the client left; nothing to answer
          }
          const failure = err instanceof UpstreamError ? err.failure : 'other';
          if (failure !== 'unknown') allUnknown = false;
          if (failure === 'missing' || failure === 'refused' || failure === 'unknown') {
            if (failure === 'refused') refusedOrSlow = true;
            tried.add(index);
            this.#ctx.log.warn('service connection failed', {
              error: new WeftError('WEFT-A008', (err as Error).message, {
                service: serviceId,
                instance: endpoint.instance,
                ...(endpoint.kind === 'remote' ? { peer: endpoint.agentId } : {}),
                errno: (err as UpstreamError).errno,
              }),
            });
            const next = router.pickExcluding(route, tried);
            if (next >= 0 && !abort.signal.aborted) return attempt(next);
          }
          clearTimeout(timer);
          this.#ctx.metrics.connectSeconds.observe({ result: 'failed' }, (performance.now() - connectStarted) / 1000);
          if (failure === 'timeout') {
            this.#ctx.log.warn('service connection failed', {
              error: new WeftError('WEFT-A008', (err as Error).message, { service: serviceId, instance: endpoint.instance }),
            });
            return this.#fail(ReplyCode.TUNNEL_FAILED);
          }
          if (failure === 'forbidden') return this.#fail(ReplyCode.FORBIDDEN);
          if (failure === 'other') {
            this.#ctx.log.error('client connection failed', {
              error: new WeftError('WEFT-A007', (err as Error).message, {
                service: serviceId,
                instance: endpoint.instance,
                path: endpoint.socketPath,
                errno: err instanceof UpstreamError ? err.errno : undefined,
              }),
            });
            return this.#fail(ReplyCode.INTERNAL);
          }
          this.#fail(refusedOrSlow ? ReplyCode.TUNNEL_FAILED : allUnknown ? ReplyCode.UNKNOWN_SERVICE : ReplyCode.UNAVAILABLE);
        },
      ).catch((e: unknown) => {
        // A bug in the handlers above must not become an unhandled rejection.
        if (this.#settled) {
          this.#ctx.log.error('client connection failed', { error: new WeftError('WEFT-A007', e instanceof Error ? e.message : String(e)) });
          this.#socket.destroy();
        } else this.#internal(e);
      });
    };
    try {
      attempt(first);
    } catch (e) {
      clearTimeout(timer);
      this.#internal(e);
    }
  }

  #connected(route: Route, index: number, stream: Duplex, early: Buffer | undefined): void {
    const socket = this.#socket;
    if (socket.destroyed) {
      stream.destroy();
      return;
    }
    this.#connectAbort = undefined;
    socket.off('close', this.#onClose);
    socket.off('error', this.#onError);
    socket.write(replyBytes(ReplyCode.OK));
    if (early) stream.write(early);
    this.#settle(ReplyCode.OK);
    const version = route.endpoints[index]!.version;
    const info: StreamInfo = { serviceId: route.serviceId, version, source: this.#source, labels: { service: route.serviceId, version } };
    // The session is done here: nothing the splice keeps may reference it (memory per idle stream).
    const ctx = this.#ctx;
    const splice = new Splice(socket, stream, this.#source.idleMs, (s) => ctx.streamEnded(s, info));
    ctx.streamStarted(splice, info);
  }
}

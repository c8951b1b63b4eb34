// HTTP over the mesh. Server side: node:http on a service socket, with a drain that
// tells keep-alive clients to go away. Client side: an http.Agent and an undici
// dispatcher whose connections are mesh streams opened with connect().
//
// Which service a request reaches (both clients): the `serviceId` option if given; else
// `resolveServiceId(host)` if given; else the host itself. "host" is the request's Host
// header when the caller set one in the request options (http.Agent only), otherwise the
// URL's hostname — lower-cased, without port or trailing dot. So
// `http://api.payments.prod:8080/x` reaches service ID `api.payments.prod`; the port only
// goes into the Host header the service sees.

import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Agent as UndiciAgent } from 'undici';
import { connect, type ConnectOptions } from './client.js';
import { MeshServer, type MeshServerOptions } from './server.js';

// ---------------------------------------------------------------- server

export interface MeshHttpServerOptions extends Omit<MeshServerOptions, 'server' | 'onConnection'> {
  /** Passed to http.createServer (timeouts, header limits, ...). */
  http?: http.ServerOptions;
}

/**
 * An HTTP server listening on a service socket. close({ deadline }) stops accepting,
 * closes idle keep-alive connections, answers in-flight and later-pipelined requests
 * with `Connection: close`, and destroys whatever is left at the deadline.
 */
export class MeshHttpServer extends MeshServer {
  readonly http: http.Server;
  private readonly inFlight = new Set<http.ServerResponse>();

  constructor(handler: http.RequestListener, options: MeshHttpServerOptions) {
    const { http: httpOptions, ...meshOptions } = options;
    const server = http.createServer(httpOptions ?? {});
    super({ ...meshOptions, server });
    this.http = server;
    // Registered before the handler so a drain's Connection: close is set first.
    server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      if (this.draining) res.setHeader('connection', 'close');
      this.inFlight.add(res);
      res.once('close', () => {
        this.inFlight.delete(res);
        // A response that went out keep-alive before the drain leaves an idle socket.
        if (this.draining) setImmediate(() => server.closeIdleConnections());
      });
    });
    server.on('request', handler);
  }

  protected override onDrainStart(): void {
    for (const res of this.inFlight) {
      if (!res.headersSent) res.setHeader('connection', 'close');
    }
    this.http.closeIdleConnections();
  }
}

/** Creates a MeshHttpServer and waits until it listens. */
export async function createMeshHttpServer(handler: http.RequestListener, options: MeshHttpServerOptions): Promise<MeshHttpServer> {
  return new MeshHttpServer(handler, options).listen();
}

// ---------------------------------------------------------------- host → service ID

export interface ServiceRouting {
  /** Every request goes to this service ID, whatever its host. */
  serviceId?: string;
  /** Maps a request's host (lower-case, no port) to a service ID. */
  resolveServiceId?: (host: string) => string;
}

/** `Api.Payments.Prod.:8080` → `api.payments.prod`; `[::1]:80` → `[::1]`. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  if (colon >= 0 && h.indexOf(':', colon + 1) < 0) h = h.slice(0, colon); // host:port, not bare IPv6
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** The service ID a request to `host` reaches (not validated here: connect() does). */
export function serviceIdForHost(host: string, routing: ServiceRouting): string {
  if (routing.serviceId !== undefined) return routing.serviceId;
  const normalized = normalizeHost(host);
  return routing.resolveServiceId ? routing.resolveServiceId(normalized) : normalized;
}

type MeshConnectOptions = Omit<ConnectOptions, 'signal'>;

// ---------------------------------------------------------------- http.Agent

export interface MeshHttpAgentOptions extends http.AgentOptions, ServiceRouting, MeshConnectOptions {}

/** An http.Agent whose sockets are mesh streams; keep-alive on by default, pooled per service ID. */
export class MeshHttpAgent extends http.Agent {
  private readonly routing: ServiceRouting;
  private readonly connectOptions: MeshConnectOptions;

  constructor(options: MeshHttpAgentOptions = {}) {
    const { serviceId, resolveServiceId, socketPath, connectTimeout, handshakeTimeout, ...agentOptions } = options;
    super({ keepAlive: true, ...agentOptions });
    this.routing = { serviceId, resolveServiceId };
    this.connectOptions = { socketPath, connectTimeout, handshakeTimeout };
  }

  /** The service ID a request with these options reaches. */
  serviceIdFor(options: http.ClientRequestArgs): string {
    return serviceIdForHost(requestHost(options), this.routing);
  }

  // Pool key: the service ID, so two hosts mapped to one service share connections and
  // two Host headers on one URL host do not.
  override getName(options: http.ClientRequestArgs = {}): string {
    let id: string;
    try {
      id = this.serviceIdFor(options);
    } catch {
      id = requestHost(options); // resolveServiceId threw: createConnection reports it
    }
    return `${id}:${options.localAddress ?? ''}`;
  }

  override createConnection(options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): undefined {
    const done = callback ?? (() => {});
    let serviceId: string;
    try {
      serviceId = this.serviceIdFor(options);
    } catch (err) {
      process.nextTick(done, err as Error, undefined as unknown as Duplex);
      return undefined;
    }
    connect(serviceId, this.connectOptions).then(
      (socket) => done(null, socket),
      (err: Error) => done(err, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/** Host of a request: an explicit Host header in the options, else hostname / host. */
function requestHost(options: http.ClientRequestArgs): string {
  const headers = options.headers;
  if (headers && !Array.isArray(headers)) {
    for (const name of Object.keys(headers)) {
      if (name.toLowerCase() === 'host') {
        const value = (headers as http.OutgoingHttpHeaders)[name];
        if (typeof value === 'string') return value;
      }
    }
  }
  return options.hostname ?? options.host ?? 'localhost';
}

// ---------------------------------------------------------------- undici

export interface MeshDispatcherOptions extends ServiceRouting, MeshConnectOptions {
  /** Other undici Agent options (pool sizes, keep-alive timeouts, ...); `connect` is ours. */
  agent?: Omit<UndiciAgent.Options, 'connect'>;
}

/**
 * An undici Agent whose connections are mesh streams, for
 * `undici.fetch(url, { dispatcher })` and `undici.request(url, { dispatcher })`.
 * undici pools per origin, so each origin host maps to one service ID. http: only: the
 * mesh stream already is the transport, TLS on top is not supported here.
 */
export function meshDispatcher(options: MeshDispatcherOptions = {}): UndiciAgent {
  const { agent, serviceId, resolveServiceId, ...connectOptions } = options;
  const routing: ServiceRouting = { serviceId, resolveServiceId };
  return new UndiciAgent({
    ...agent,
    connect: (opts, callback) => {
      if (opts.protocol !== 'http:') {
        callback(new TypeError(`meshDispatcher carries http: only, got ${opts.protocol}`), null);
        return;
      }
      let id: string;
      try {
        id = serviceIdForHost(opts.hostname, routing);
      } catch (err) {
        callback(err as Error, null);
        return;
      }
      connect(id, connectOptions).then(
        (socket: Socket) => callback(null, socket),
        (err: Error) => callback(err, null),
      );
    },
  });
}

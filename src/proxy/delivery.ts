// How the proxy opens a byte stream to an endpoint it picked. Local endpoints
// go through the agent's Upstream (the instance's Unix server socket) or, in
// sidecar mode, to the app's TCP port on loopback; remote endpoints through the
// remote upstream (a tunnel stream to the other agent: any Duplex). The stream
// then carries HTTP/1.1, h2c or CONNECT bytes: delivery does not care.
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { UpstreamError, type ClientIdentity, type Upstream, type UpstreamFailure } from '../agent/upstream.js';
import type { Endpoint } from '../agent/routing.js';
import type { MeshEndpoint } from './endpoints.js';

/** Per-request hints: the port the client named (Host / X-Forwarded-Port), for sidecar delivery. */
export interface DeliveryHint {
  readonly port?: number | undefined;
}

/** An Upstream that also takes remote endpoints. A tunnel implements this. */
export interface MeshUpstream {
  open(endpoint: MeshEndpoint, serviceId: string, source: ClientIdentity, signal: AbortSignal, hint?: DeliveryHint): Promise<Duplex>;
}

function classify(code: string | undefined): UpstreamFailure {
  switch (code) {
    case 'ENOENT':
      return 'missing';
    case 'ECONNREFUSED':
      return 'refused';
    case 'EAGAIN':
    case 'ETIMEDOUT':
      return 'timeout';
    default:
      return 'other';
  }
}

/** TCP connect to host:port, aborted by `signal` (as a timeout). */
export function connectTcp(host: string, port: number, signal: AbortSignal): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = connect({ host, port, allowHalfOpen: true, noDelay: true });
    const onAbort = () => {
      socket.destroy();
      reject(new UpstreamError('timeout', 'ETIMEDOUT', `${host}:${port} did not answer in time`));
    };
    socket.once('error', (err: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort);
      reject(new UpstreamError(classify(err.code), err.code, `${host}:${port}: ${err.code ?? err.message}`));
    });
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Sidecar delivery for the agent itself: a local service named in --service-ports
 * is the app's TCP port on 127.0.0.1; others go to `fallback` (the Unix server socket).
 */
export class ServicePortsUpstream implements Upstream {
  constructor(
    readonly ports: ReadonlyMap<string, number>,
    readonly fallback: Upstream,
    readonly host = '127.0.0.1',
  ) {}
  open(endpoint: Endpoint, serviceId: string, source: ClientIdentity, signal: AbortSignal): Promise<Duplex> {
    const port = this.ports.get(serviceId.slice(0, serviceId.indexOf('.')));
    return port === undefined ? this.fallback.open(endpoint, serviceId, source, signal) : connectTcp(this.host, port, signal);
  }
}

export interface ProxyDeliveryOptions {
  local: Upstream;
  remote?: MeshUpstream | undefined;
  /** Sidecar mode: service name → the app's port on loopback. */
  servicePorts?: ReadonlyMap<string, number> | undefined;
  /** Sidecar mode: a local service without a port in servicePorts goes to the port the request named. */
  portFromRequest?: boolean;
  loopbackHost?: string;
}

export class ProxyDelivery implements MeshUpstream {
  readonly #o: ProxyDeliveryOptions;
  constructor(options: ProxyDeliveryOptions) {
    this.#o = options;
  }
  get remoteReachable(): boolean {
    return this.#o.remote !== undefined;
  }
  open(endpoint: MeshEndpoint, serviceId: string, source: ClientIdentity, signal: AbortSignal, hint?: DeliveryHint): Promise<Duplex> {
    if (endpoint.kind === 'remote') {
      if (!this.#o.remote) return Promise.reject(new UpstreamError('missing', undefined, `no tunnel to agent ${endpoint.agentId}`));
      return this.#o.remote.open(endpoint, serviceId, source, signal, hint);
    }
    const ports = this.#o.servicePorts;
    if (ports) {
      const port = ports.get(serviceId.slice(0, serviceId.indexOf('.'))) ?? (this.#o.portFromRequest ? hint?.port : undefined);
      if (port !== undefined) return connectTcp(this.#o.loopbackHost ?? '127.0.0.1', port, signal);
    }
    return this.#o.local.open(endpoint, serviceId, source, signal);
  }
}

// Delivery: how the agent reaches the endpoint it picked. The splice does not
// care where the Duplex comes from, so a tunnel stream to another agent plugs in
// as another Upstream. LocalSocketUpstream connects to a local server socket.
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Endpoint } from './routing.js';

/** Who is connecting: the meshlet instance whose client socket was used. */
export interface ClientIdentity {
  readonly namespace: string;
  readonly meshlet: string;
  readonly instance: string;
}

/**
 * Why an open failed, which decides the reply code:
 * missing → the endpoint is not there, or a remote agent has no healthy instance
 *   (next endpoint is tried; all missing → UNAVAILABLE),
 * unknown → a remote agent does not serve the service (next endpoint is tried;
 *   all unknown → UNKNOWN_SERVICE),
 * refused → it is there but refused, or the remote agent cannot be reached or
 *   refused the stream (next endpoint is tried; → TUNNEL_FAILED),
 * forbidden → a remote agent's policy refused the source (→ FORBIDDEN),
 * timeout → no answer within the connect timeout or backlog full (→ TUNNEL_FAILED),
 * other → anything else (→ INTERNAL, logged).
 */
export type UpstreamFailure = 'missing' | 'unknown' | 'refused' | 'forbidden' | 'timeout' | 'other';

export class UpstreamError extends Error {
  constructor(
    readonly failure: UpstreamFailure,
    readonly errno: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

export interface Upstream {
  /** Opens a byte stream to `endpoint` for `serviceId`; rejects with UpstreamError. Aborting `signal` cancels it as a timeout. */
  open(endpoint: Endpoint, serviceId: string, source: ClientIdentity, signal: AbortSignal): Promise<Duplex>;
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

/** Connects to the endpoint's Unix socket (half-open allowed, so each side's FIN is passed on). */
export class LocalSocketUpstream implements Upstream {
  open(endpoint: Endpoint, _serviceId: string, _source: ClientIdentity, signal: AbortSignal): Promise<Duplex> {
    if (endpoint.kind !== 'local') return Promise.reject(new UpstreamError('refused', undefined, `no tunnel to peer ${endpoint.agentId} (tunnels are not enabled)`));
    return new Promise<Duplex>((resolve, reject) => {
      const socket: Socket = connect({ path: endpoint.socketPath, allowHalfOpen: true });
      const onAbort = () => {
        socket.destroy();
        reject(new UpstreamError('timeout', 'ETIMEDOUT', `${endpoint.socketPath} did not answer in time`));
      };
      const onError = (err: NodeJS.ErrnoException) => {
        signal.removeEventListener('abort', onAbort);
        reject(new UpstreamError(classify(err.code), err.code, `${endpoint.socketPath}: ${err.code ?? err.message}`));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        socket.off('error', onError);
        resolve(socket);
      });
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

// Client helper: reach a service through the agent. Connects to the meshlet's client
// socket, sends the handshake request, reads the 2-byte reply, and hands back the socket
// with every byte after the reply still in it (read(2) leaves the rest buffered).

import * as net from 'node:net';
import { MeshConnectError, type MeshConnectErrorCode } from './errors.js';
import { encodeHandshakeRequest, HANDSHAKE_REPLY_LENGTH, HANDSHAKE_VERSION, ReplyCode, replyCodeName } from './handshake.js';
import { clientSocketPath } from './paths.js';
import { serviceIdProblem } from './service-id.js';

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface ConnectOptions {
  /** The agent's client socket; default `$WEFT_MESHLET_DIR/client/meshless` (/meshlet/...). */
  socketPath?: string;
  /** Milliseconds from the call until the socket is connected; Infinity for none. */
  connectTimeout?: number;
  /** Milliseconds from connected until the reply arrived; Infinity for none. */
  handshakeTimeout?: number;
  /** Keep the socket writable after the service ended its side (net's allowHalfOpen); default false. */
  allowHalfOpen?: boolean;
  /** Cancels the attempt (code ABORTED). It does not affect the socket once resolved. */
  signal?: AbortSignal;
}

/**
 * Opens a stream to `serviceId` (`<service>.<meshlet>.<namespace>`) through the agent.
 * Resolves to the connected socket once the agent replied OK; rejects with a
 * MeshConnectError whose `code` names the reply code or the local failure.
 */
export function connect(serviceId: string, options: ConnectOptions = {}): Promise<net.Socket> {
  const socketPath = options.socketPath ?? clientSocketPath();
  const { signal } = options;

  return new Promise<net.Socket>((resolve, reject) => {
    // A bad option throws here, which rejects the promise with that TypeError.
    const connectTimeout = checkTimeout('connectTimeout', options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS);
    const handshakeTimeout = checkTimeout('handshakeTimeout', options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS);
    const problem = serviceIdProblem(serviceId);
    if (problem !== null) {
      reject(new MeshConnectError('INVALID_SERVICE_ID', problem, { serviceId: String(serviceId), socketPath }));
      return;
    }
    if (signal?.aborted) {
      reject(new MeshConnectError('ABORTED', `connect to ${serviceId} aborted before it started`, { serviceId, socketPath, cause: signal.reason }));
      return;
    }

    const socket = net.createConnection({ path: socketPath, allowHalfOpen: options.allowHalfOpen ?? false });
    let timer = startTimer(connectTimeout, () => fail('CONNECT_TIMEOUT', `not connected to ${socketPath} within ${connectTimeout} ms`));
    let settled = false;

    const onConnect = (): void => {
      clearTimeout(timer);
      timer = startTimer(handshakeTimeout, () => fail('HANDSHAKE_TIMEOUT', `no reply from the agent within ${handshakeTimeout} ms`));
    };
    const onReadable = (): void => {
      if (settled) return;
      const reply: Buffer | null = socket.read(HANDSHAKE_REPLY_LENGTH);
      if (reply === null) return; // fewer than 2 bytes so far; 'readable' fires again
      if (reply.length < HANDSHAKE_REPLY_LENGTH) {
        fail('BAD_REPLY', `the agent closed the connection after ${reply.length} of ${HANDSHAKE_REPLY_LENGTH} reply bytes`);
      } else if (reply[0] !== HANDSHAKE_VERSION) {
        fail('BAD_REPLY', `reply version ${reply[0]}, expected ${HANDSHAKE_VERSION}`, reply[1]);
      } else if (reply[1] === ReplyCode.OK) {
        settled = true;
        cleanup();
        resolve(socket);
      } else {
        const code = reply[1]!;
        const name = replyCodeName(code);
        if (name === undefined || name === 'OK') fail('BAD_REPLY', `unknown reply code ${code}`, code);
        else fail(name, `the agent replied ${name} (${code}) for ${serviceId}`, code);
      }
    };
    const onEnd = (): void => fail('BAD_REPLY', 'the agent closed the connection before replying');
    const onClose = (): void => fail('SOCKET_ERROR', 'the connection closed before the reply');
    const onError = (err: NodeJS.ErrnoException): void =>
      fail('SOCKET_ERROR', `${err.code ?? 'error'} on ${socketPath}: ${err.message}`, undefined, err);
    const onAbort = (): void => fail('ABORTED', `connect to ${serviceId} aborted`, undefined, signal?.reason);

    function cleanup(): void {
      clearTimeout(timer);
      socket.off('connect', onConnect).off('readable', onReadable).off('end', onEnd).off('close', onClose).off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    }
    function fail(code: MeshConnectErrorCode, message: string, replyCode?: number, cause?: unknown): void {
      if (settled) return;
      settled = true;
      cleanup();
      socket.on('error', () => {}); // late errors of a socket we are discarding
      socket.destroy();
      reject(new MeshConnectError(code, message, { serviceId, socketPath, replyCode, cause }));
    }

    socket.once('connect', onConnect).on('readable', onReadable).once('end', onEnd).once('close', onClose).once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    // Written now, sent once connected: the request does not wait for a round trip.
    socket.write(encodeHandshakeRequest(serviceId));
  });
}

function checkTimeout(name: string, ms: number): number {
  if (typeof ms !== 'number' || !(ms > 0)) throw new TypeError(`${name} must be a positive number of milliseconds or Infinity, got ${ms}`);
  return ms;
}

/** setTimeout, except that Infinity means never (setTimeout would fire at once). */
function startTimer(ms: number, fn: () => void): NodeJS.Timeout | undefined {
  return Number.isFinite(ms) ? setTimeout(fn, ms) : undefined;
}

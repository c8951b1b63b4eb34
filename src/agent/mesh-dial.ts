// The client side of the handshake, for `weft connect` and the benchmarks: connect
// to a meshlet's client socket, send the request, read the two-byte reply.
// (Applications use the SDK's connect(); this is the agent's own minimal dialer.)
import { connect, type Socket } from 'node:net';
import { WeftError } from '../errors.js';
import { replyCodeName } from './agent-metrics.js';
import { HANDSHAKE_VERSION, ReplyCode, encodeRequest } from './kernels.js';

export interface DialOptions {
  /** Give up if the reply has not arrived by then (ms). */
  timeoutMs?: number;
  /** Bytes sent right after the request, before the reply (the agent keeps them). */
  early?: Uint8Array;
}

/** Resolves to the connected socket once the agent replied OK; rejects with WEFT-A011 (details.replyCode) or WEFT-A012. */
export function dialMesh(clientSocket: string, serviceId: string, options: DialOptions = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path: clientSocket, allowHalfOpen: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new WeftError('WEFT-A011', `no reply from the agent within ${options.timeoutMs} ms`, { serviceId }));
    }, options.timeoutMs ?? 10_000);
    const fail = (e: WeftError) => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    };
    socket.once('error', (e: NodeJS.ErrnoException) =>
      fail(new WeftError('WEFT-A012', `${clientSocket}: ${e.code ?? e.message}`, { socket: clientSocket, errno: e.code })),
    );
    socket.once('connect', () => {
      socket.write(encodeRequest(serviceId));
      if (options.early?.length) socket.write(options.early);
    });
    let got: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      got = got.length ? Buffer.concat([got, chunk]) : chunk;
      if (got.length < 2) return;
      socket.off('data', onData);
      socket.pause();
      const code = got[1]!;
      if (got[0] !== HANDSHAKE_VERSION || code !== ReplyCode.OK) {
        return fail(new WeftError('WEFT-A011', `${serviceId}: ${replyCodeName(code)} (${code})`, { serviceId, replyCode: code, reply: replyCodeName(code) }));
      }
      clearTimeout(timer);
      socket.removeAllListeners('error');
      if (got.length > 2) socket.unshift(got.subarray(2));
      resolve(socket);
    };
    socket.on('data', onData);
    socket.once('end', () => {
      if (got.length < 2) fail(new WeftError('WEFT-A011', `${serviceId}: the agent closed the connection before replying`, { serviceId }));
    });
  });
}

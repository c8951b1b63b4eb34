// Raw client-side helpers for agent tests: send handshake bytes in any split,
// read the two-byte reply, run echo servers on service sockets.
import { createHash } from 'node:crypto';
import { linkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { encodeRequest } from '../../src/agent/kernels.js';
import { listenUnix } from '../../src/agent/unix-listen.js';

export interface Reply {
  version: number;
  code: number;
  socket: Socket;
  /** Bytes that followed the reply in the same read. */
  extra: Buffer;
  /** True if the agent closed its side right after the reply. */
  ended: Promise<void>;
}

export function request(serviceId: string): Buffer {
  return Buffer.from(encodeRequest(serviceId));
}

export function openClient(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ path, allowHalfOpen: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Reads the 2-byte reply from a connected socket. */
export function readReply(socket: Socket, timeoutMs = 5_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const ended = new Promise<void>((r) => socket.once('end', () => r()));
    const timer = setTimeout(() => reject(new Error('no reply from agent')), timeoutMs);
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < 2) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      resolve({ version: got[0]!, code: got[1]!, socket, extra: got.subarray(2), ended });
    };
    socket.on('data', onData);
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Connects, writes `chunks` one by one (with `gapMs` between), returns the reply. */
export async function handshake(path: string, chunks: Uint8Array[] | Uint8Array, gapMs = 0): Promise<Reply> {
  const socket = await openClient(path);
  const replyP = readReply(socket);
  const list = Array.isArray(chunks) ? chunks : [chunks];
  for (let i = 0; i < list.length; i++) {
    socket.write(list[i]!);
    if (gapMs && i < list.length - 1) await delay(gapMs);
  }
  return replyP;
}

/** The reply code for a plain request, closing the socket afterwards. */
export async function replyCode(path: string, serviceId: string): Promise<number> {
  const r = await handshake(path, request(serviceId));
  r.socket.destroy();
  return r.code;
}

/** Sends `data` on an OK stream, half-closes, and resolves with everything echoed back. */
export async function echoRoundTrip(socket: Socket, data: Buffer, already: Buffer = Buffer.alloc(0)): Promise<Buffer> {
  const parts: Buffer[] = [already];
  socket.on('data', (c: Buffer) => parts.push(c));
  socket.resume();
  socket.end(data);
  await once(socket, 'end');
  return Buffer.concat(parts);
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export interface EchoServer {
  server: Server;
  /** Connections accepted so far / open now. */
  accepted: number;
  readonly open: Set<Socket>;
  close(): Promise<void>;
}

/** A byte echo on a Unix socket path, counting connections. */
export async function startEcho(path: string): Promise<EchoServer> {
  const open = new Set<Socket>();
  const echo: EchoServer = {
    server: createServer({ allowHalfOpen: true }, (s) => {
      echo.accepted++;
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => s.destroy());
      s.pipe(s);
    }),
    accepted: 0,
    open,
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        echo.server.close(() => r());
      }),
  };
  await listenUnix(echo.server, path, 0o660, {});
  return echo;
}

/** Leaves a socket file at `path` that nobody listens on (connect → ECONNREFUSED). */
export async function makeStaleSocket(path: string): Promise<void> {
  const temp = `${path}.tmp`;
  const s = createServer();
  await new Promise<void>((r) => s.listen(temp, () => r()));
  linkSync(temp, path);
  await new Promise<void>((r) => s.close(() => r()));
}

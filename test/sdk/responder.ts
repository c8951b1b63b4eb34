// A small stand-in for the agent's client socket, speaking the agent side of the client
// handshake exactly as ARCHITECTURE.md "Client handshake (version 1)" says, so the SDK's
// client can be tested without the agent. Written from the spec, independently of the
// SDK's client code: its own resumable parser over bytes, its own reply-code table.

import * as net from 'node:net';
import { isServiceId } from '../../src/sdk/service-id.js';

/** The reply codes as ARCHITECTURE.md's table lists them. */
export const SPEC_REPLY_CODES = {
  OK: 0,
  UNSUPPORTED_VERSION: 1,
  MALFORMED: 2,
  UNKNOWN_SERVICE: 3,
  FORBIDDEN: 4,
  UNAVAILABLE: 5,
  TUNNEL_FAILED: 6,
  OVERLOADED: 7,
  INTERNAL: 255,
} as const;

export interface ResponderOptions {
  /** Client socket path to listen on. */
  socketPath: string;
  /** Service ID → server socket path the responder splices to after replying OK. */
  services?: Record<string, string>;
  /** Forces a reply code for a service ID (checked before the service table). */
  forceReply?: (serviceId: string) => number | undefined;
  /** Raw bytes to send instead of a reply (for garbage-reply tests). */
  rawReply?: Buffer;
  /** Never reply (handshake-timeout tests). */
  silent?: boolean;
  /** Send the reply one byte per write, each in its own event-loop turn. */
  splitReply?: boolean;
  /** Bytes to send right after an OK reply in the same write (service bytes arriving early). */
  afterOk?: Buffer;
  /** The agent's handshake timeout: a request not whole by then gets MALFORMED. */
  handshakeTimeoutMs?: number;
}

export interface Responder {
  readonly socketPath: string;
  /** Service IDs of the requests received, in order. */
  readonly requests: string[];
  /** Bytes a client sent after its request, per connection, before the splice. */
  readonly early: Buffer[];
  close(): Promise<void>;
}

export async function startResponder(options: ResponderOptions): Promise<Responder> {
  const requests: string[] = [];
  const early: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  // Half-open on both legs, as a relay must: a client that ends its writes still gets
  // the service's answer.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    handle(client, options, requests, early, sockets);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.socketPath, () => resolve());
  });
  return {
    socketPath: options.socketPath,
    requests,
    early,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function handle(client: net.Socket, o: ResponderOptions, requests: string[], early: Buffer[], sockets: Set<net.Socket>): void {
  // Resumable parse: state is how many request bytes are known.
  let buffered = Buffer.alloc(0);
  let done = false;
  const timer = setTimeout(() => finish(SPEC_REPLY_CODES.MALFORMED), o.handshakeTimeoutMs ?? 10_000);

  const finish = (code: number, serviceId?: string, rest?: Buffer): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    client.off('data', onData);
    if (o.silent) return;
    if (o.rawReply) {
      client.end(o.rawReply);
      return;
    }
    if (code !== SPEC_REPLY_CODES.OK) {
      void sendReply(client, code, o.splitReply).then(() => client.end());
      return;
    }
    splice(client, o.services![serviceId!]!, rest!, o, early, sockets);
  };

  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk]);
    if (buffered.length < 1) return;
    if (buffered[0] !== 1) return finish(SPEC_REPLY_CODES.UNSUPPORTED_VERSION);
    if (buffered.length < 2) return;
    const n = buffered[1]!;
    if (n === 0) return finish(SPEC_REPLY_CODES.MALFORMED);
    if (buffered.length < 2 + n) return;
    const id = buffered.subarray(2, 2 + n).toString('latin1');
    const rest = buffered.subarray(2 + n);
    if (!isServiceId(id)) return finish(SPEC_REPLY_CODES.MALFORMED);
    requests.push(id);
    const forced = o.forceReply?.(id);
    if (forced !== undefined) return finish(forced, id, rest);
    if (o.services?.[id] === undefined) return finish(SPEC_REPLY_CODES.UNKNOWN_SERVICE, id, rest);
    finish(SPEC_REPLY_CODES.OK, id, rest);
  };
  client.on('data', onData);
}

async function sendReply(client: net.Socket, code: number, split?: boolean, after?: Buffer): Promise<void> {
  const reply = Buffer.from([1, code]);
  if (!split) {
    client.write(after ? Buffer.concat([reply, after]) : reply);
    return;
  }
  client.write(reply.subarray(0, 1));
  await new Promise((r) => setImmediate(r));
  client.write(after ? Buffer.concat([reply.subarray(1), after]) : reply.subarray(1));
}

/** Connects to the server socket; replies OK once it answers (TUNNEL_FAILED if not), then pipes both ways. */
function splice(client: net.Socket, serverPath: string, rest: Buffer, o: ResponderOptions, early: Buffer[], sockets: Set<net.Socket>): void {
  // Bytes the client sends before the splice are kept, not dropped.
  const pending: Buffer[] = rest.length ? [Buffer.from(rest)] : [];
  const keep = (b: Buffer): void => void pending.push(b);
  client.on('data', keep);
  client.pause();
  const upstream = net.createConnection({ path: serverPath, allowHalfOpen: true });
  sockets.add(upstream);
  upstream.on('close', () => sockets.delete(upstream));
  upstream.once('error', () => {
    client.off('data', keep);
    void sendReply(client, SPEC_REPLY_CODES.TUNNEL_FAILED).then(() => client.end());
  });
  upstream.once('connect', () => {
    upstream.removeAllListeners('error');
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    void sendReply(client, SPEC_REPLY_CODES.OK, o.splitReply, o.afterOk).then(() => {
      client.off('data', keep);
      const earlyBytes = Buffer.concat(pending);
      early.push(earlyBytes);
      if (earlyBytes.length) upstream.write(earlyBytes);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  });
}

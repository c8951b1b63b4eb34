// Test helper: two tunnel sessions over real TCP on 127.0.0.1 (optionally
// through a relay such as the tap), with fresh identities and a shared secret.
import net from 'node:net';
import { once } from 'node:events';
import { connectTunnel, acceptTunnel, generateIdentity, type TunnelOptions, type TunnelSession, type Identity } from '../../src/tunnel/index.js';

export const SECRET = 'test cluster secret';

export interface Pair {
  client: TunnelSession;
  server: TunnelSession;
  clientIdentity: Identity;
  serverIdentity: Identity;
  /** Closes the listener (sessions are the test's business). */
  close(): Promise<void>;
}

export interface PairOptions {
  client?: Partial<TunnelOptions>;
  server?: Partial<TunnelOptions>;
  /** Connect here instead of to the server (a relay in front of it); given the server's port. */
  via?: (serverPort: number) => Promise<number>;
}

/** A listener whose accepted sockets run acceptTunnel; resolves each session or error in order. */
export async function listen(options: Omit<Partial<TunnelOptions>, 'identity'> & { identity: Identity }): Promise<{
  server: net.Server;
  port: number;
  sessions: AsyncGenerator<TunnelSession | Error>;
  sockets: Set<net.Socket>;
}> {
  const results: (TunnelSession | Error)[] = [];
  const waiters: ((v: TunnelSession | Error) => void)[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
    acceptTunnel(sock, { psk: SECRET, ...options }).then(
      (s) => (waiters.length ? waiters.shift()!(s) : results.push(s)),
      (e: Error) => (waiters.length ? waiters.shift()!(e) : results.push(e)),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  async function* sessions(): AsyncGenerator<TunnelSession | Error> {
    for (;;) yield results.length ? results.shift()! : await new Promise<TunnelSession | Error>((r) => waiters.push(r));
  }
  return { server, port, sessions: sessions(), sockets };
}

export async function dial(port: number): Promise<net.Socket> {
  const sock = net.connect(port, '127.0.0.1');
  await once(sock, 'connect');
  return sock;
}

export async function makePair(o: PairOptions = {}): Promise<Pair> {
  const serverIdentity = generateIdentity();
  const clientIdentity = generateIdentity();
  const l = await listen({ ...o.server, identity: (o.server?.identity as Identity | undefined) ?? serverIdentity });
  const port = o.via ? await o.via(l.port) : l.port;
  const sock = await dial(port);
  const [client, server] = await Promise.all([
    connectTunnel(sock, { identity: clientIdentity, psk: SECRET, ...o.client }),
    l.sessions.next().then((r) => {
      if (r.value instanceof Error) throw r.value;
      return r.value as TunnelSession;
    }),
  ]);
  return {
    client,
    server,
    clientIdentity,
    serverIdentity,
    close: async () => {
      l.server.close();
      for (const s of l.sockets) s.destroy();
    },
  };
}

// HTTP/2 (h2c, prior knowledge) sessions of one upstream cluster: one
// multiplexed session per endpoint, opened over a stream from the mesh
// delivery, dropped when it closes or the peer sends GOAWAY.
import { connect, type ClientHttp2Session } from 'node:http2';
import type { ClientIdentity } from '../agent/upstream.js';
import type { MeshUpstream } from './delivery.js';
import type { ProxyEndpoint } from './endpoints.js';
import { socketLike } from './socket-like.js';

export class EndpointH2Pool {
  readonly #sessions = new Map<string, Promise<ClientHttp2Session>>();
  #closed = false;

  constructor(
    private readonly delivery: MeshUpstream,
    private readonly source: ClientIdentity,
    private readonly connectMs: number,
    private readonly idleMs: number,
  ) {}

  get size(): number {
    return this.#sessions.size;
  }

  session(ep: ProxyEndpoint, port: number | undefined): Promise<ClientHttp2Session> {
    const key = port === undefined ? ep.key : `${ep.key}:${port}`;
    let s = this.#sessions.get(key);
    if (!s) {
      s = this.#open(ep, port, key);
      this.#sessions.set(key, s);
      s.catch(() => this.#sessions.delete(key));
    }
    return s;
  }

  async #open(ep: ProxyEndpoint, port: number | undefined, key: string): Promise<ClientHttp2Session> {
    if (this.#closed) throw new Error('pool closed');
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), this.connectMs);
    try {
      const stream = socketLike(await this.delivery.open(ep.target, ep.serviceId, this.source, ctl.signal, { port }));
      const session = connect(`http://${ep.serviceId}`, { createConnection: () => stream });
      await new Promise<void>((resolve, reject) => {
        session.once('connect', () => resolve());
        session.once('error', reject);
        ctl.signal.addEventListener('abort', () => reject(Object.assign(new Error('h2 session setup timed out'), { code: 'ETIMEDOUT' })), { once: true });
      });
      const forget = () => {
        if (this.#sessions.get(key) === promise) this.#sessions.delete(key);
      };
      const promise = this.#sessions.get(key)!;
      session.on('close', forget);
      session.on('goaway', forget);
      session.on('error', forget);
      session.setTimeout(this.idleMs, () => {
        forget();
        session.close();
      });
      return session;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#sessions.values()) s.then((x) => x.destroy(), () => undefined);
    this.#sessions.clear();
  }
}

// Keep-alive upstream connections for the HTTP/1 fast path: per endpoint (and
// per app port in sidecar mode) a stack of idle byte streams opened through the
// mesh delivery (Unix socket, the app's TCP port, or a tunnel stream), at most
// the cluster's maxConnections, with a FIFO of requests waiting for one (the
// breaker's pending count). A connection carries one request at a time; the
// fast path writes the request bytes itself and reads the response off
// `onData`, so no HTTP client library sits in between.
import type { Duplex } from 'node:stream';
import { UpstreamError, type ClientIdentity } from '../agent/upstream.js';
import type { MeshUpstream } from './delivery.js';
import type { ProxyEndpoint } from './endpoints.js';

/** What the request on a connection hears from it. */
export interface ConnectionUser {
  onData(chunk: Buffer): void;
  /** The stream closed or failed (after `release` it is no longer called). */
  onClose(err: (Error & { code?: string }) | undefined, conn: UpstreamConnection): void;
}

export class UpstreamConnection {
  user: ConnectionUser | undefined;
  /** Requests this connection carried before the current one. */
  uses = 0;
  closed = false;
  idleSince = 0;
  #error: (Error & { code?: string }) | undefined;

  constructor(
    readonly stream: Duplex,
    private readonly pool: EndpointPool,
  ) {
    stream.on('data', (c: Buffer) => {
      if (this.user) this.user.onData(c);
      else this.destroy(); // bytes nobody asked for: the connection's framing is unknown now
    });
    stream.on('error', (e: Error) => (this.#error = e));
    stream.on('close', () => this.#closed());
    stream.on('end', () => stream.destroy());
  }

  #closed(): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.gone(this);
    const u = this.user;
    this.user = undefined;
    u?.onClose(this.#error ?? Object.assign(new Error('upstream closed the connection'), { code: 'UPSTREAM_CLOSED' }), this);
  }

  write(bytes: Buffer): void {
    this.stream.write(bytes);
  }

  /** The request is done with it: back to the pool when `reusable`, else closed. */
  release(reusable: boolean): void {
    this.user = undefined;
    this.uses++;
    if (reusable && !this.closed) this.pool.idle(this);
    else this.destroy();
  }

  destroy(): void {
    this.user = undefined;
    this.stream.destroy();
    this.#closed();
  }
}

interface Waiter {
  cb: (c: UpstreamConnection | Error) => void;
  cancelled: boolean;
}

export class EndpointPool {
  readonly #idle: UpstreamConnection[] = [];
  readonly #waiters: Waiter[] = [];
  total = 0;

  constructor(
    private readonly owner: RawUpstreamPools,
    private readonly ep: ProxyEndpoint,
    private readonly port: number | undefined,
  ) {}

  /** A connection now or later (`cb` may run synchronously); the returned function cancels the wait. */
  acquire(cb: (c: UpstreamConnection | Error) => void): () => void {
    for (let c = this.#idle.pop(); c; c = this.#idle.pop()) {
      if (!c.closed) {
        cb(c);
        return noop;
      }
    }
    const w: Waiter = { cb, cancelled: false };
    this.#waiters.push(w);
    if (this.total < this.owner.maxConnections) this.#open();
    return () => {
      w.cancelled = true;
    };
  }

  #open(): void {
    this.total++;
    this.owner.opened();
    const o = this.owner;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), o.connectMs);
    o.delivery.open(this.ep.target, this.ep.serviceId, o.source, ctl.signal, { port: this.port }).then(
      (stream) => {
        clearTimeout(timer);
        const c = new UpstreamConnection(stream, this);
        if (!this.#handOff(c)) this.idle(c);
      },
      (err: Error) => {
        clearTimeout(timer);
        this.total--;
        this.owner.closed();
        // The first waiter gets the failure (its attempt fails over); the others wait on.
        const w = this.#nextWaiter();
        if (w) w.cb(err instanceof UpstreamError ? err : new UpstreamError('other', (err as { code?: string }).code, err.message));
        if (this.#waiters.some((x) => !x.cancelled) && this.total < this.owner.maxConnections) this.#open();
      },
    );
  }

  #nextWaiter(): Waiter | undefined {
    for (let w = this.#waiters.shift(); w; w = this.#waiters.shift()) if (!w.cancelled) return w;
    return undefined;
  }

  #handOff(c: UpstreamConnection): boolean {
    const w = this.#nextWaiter();
    if (!w) return false;
    w.cb(c);
    return true;
  }

  idle(c: UpstreamConnection): void {
    if (c.closed || this.#handOff(c)) return;
    if (this.total > this.owner.maxConnections) return c.destroy();
    c.idleSince = performance.now();
    this.#idle.push(c);
    this.owner.watchIdle();
  }

  gone(c: UpstreamConnection): void {
    this.total--;
    this.owner.closed();
    const i = this.#idle.indexOf(c);
    if (i >= 0) this.#idle.splice(i, 1);
    if (this.#waiters.some((x) => !x.cancelled) && this.total < this.owner.maxConnections) this.#open();
  }

  /** Closes connections idle since before `before`; true while some stay idle. */
  sweep(before: number): boolean {
    for (const c of [...this.#idle]) if (c.idleSince < before) c.destroy();
    return this.#idle.length > 0;
  }

  close(): void {
    for (const c of [...this.#idle]) c.destroy();
    for (const w of this.#waiters.splice(0)) if (!w.cancelled) w.cb(new UpstreamError('other', undefined, 'pool closed'));
  }
}

function noop(): void {}

/** The fast path's upstream connections of one cluster. */
export class RawUpstreamPools {
  readonly #pools = new Map<string, EndpointPool>();
  #sweeper: NodeJS.Timeout | undefined;
  /** Upstream connections open now (all endpoints). */
  connections = 0;

  constructor(
    readonly delivery: MeshUpstream,
    readonly source: ClientIdentity,
    readonly connectMs: number,
    readonly idleMs: number,
    public maxConnections: number,
  ) {}

  pool(ep: ProxyEndpoint, port: number | undefined): EndpointPool {
    const key = port === undefined ? ep.key : `${ep.key}:${port}`;
    let p = this.#pools.get(key);
    if (!p) this.#pools.set(key, (p = new EndpointPool(this, ep, port)));
    return p;
  }

  opened(): void {
    this.connections++;
  }

  closed(): void {
    this.connections--;
  }

  /** Idle connections close after idleMs (checked every idleMs / 2 while any is idle). */
  watchIdle(): void {
    if (this.#sweeper || this.idleMs <= 0) return;
    this.#sweeper = setInterval(() => {
      const before = performance.now() - this.idleMs;
      let any = false;
      for (const p of this.#pools.values()) any = p.sweep(before) || any;
      if (!any) {
        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
      }
    }, Math.max(50, this.idleMs / 2));
    this.#sweeper.unref();
  }

  forget(key: string): void {
    for (const [k, p] of this.#pools) {
      if (k === key || k.startsWith(`${key}:`)) {
        p.close();
        this.#pools.delete(k);
      }
    }
  }

  close(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const p of this.#pools.values()) p.close();
    this.#pools.clear();
  }
}

// HTTP/1.1 connections of one upstream cluster: an undici Pool per endpoint
// (undici's client is about twice as fast as node:http's), whose connections
// are opened through the mesh delivery — the instance's Unix socket, the app's
// port, or a tunnel stream (any Duplex) — within the connect timeout. Each
// endpoint pool holds at most the cluster's maxConnections; beyond that,
// requests wait in the pool (the breaker's pending count).
import type { Duplex } from 'node:stream';
import { Pool } from 'undici';
import type { ClientIdentity } from '../agent/upstream.js';
import type { MeshUpstream } from './delivery.js';
import type { ProxyEndpoint } from './endpoints.js';
import { socketLike } from './socket-like.js';

export class EndpointHttpPools {
  readonly #pools = new Map<string, Pool>();
  /** Upstream connections open now (all endpoints). */
  connections = 0;
  maxConnections: number;

  constructor(
    private readonly delivery: MeshUpstream,
    private readonly source: ClientIdentity,
    private readonly connectMs: number,
    private readonly idleMs: number,
    maxConnections: number,
  ) {
    this.maxConnections = maxConnections;
  }

  /** The pool for an endpoint (and the port the client named, for sidecar delivery). */
  pool(ep: ProxyEndpoint, port: number | undefined): Pool {
    const key = port === undefined ? ep.key : `${ep.key}:${port}`;
    let p = this.#pools.get(key);
    if (!p || p.destroyed || p.closed) {
      p = new Pool(`http://${ep.serviceId}`, {
        connections: this.maxConnections,
        pipelining: 1,
        keepAliveTimeout: this.idleMs,
        keepAliveMaxTimeout: this.idleMs,
        headersTimeout: 0,
        bodyTimeout: 0,
        connect: (_opts, cb) => this.#connect(ep, port, cb as (err: Error | null, socket: Duplex | null) => void),
      });
      this.#pools.set(key, p);
    }
    return p;
  }

  #connect(ep: ProxyEndpoint, port: number | undefined, cb: (err: Error | null, socket: Duplex | null) => void): void {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), this.connectMs);
    this.delivery.open(ep.target, ep.serviceId, this.source, ctl.signal, { port }).then(
      (stream) => {
        clearTimeout(timer);
        this.connections++;
        stream.once('close', () => this.connections--);
        cb(null, socketLike(stream));
      },
      (err: Error) => {
        clearTimeout(timer);
        cb(err, null);
      },
    );
  }

  /** New limits: pools finish what they have and are replaced on next use. */
  resize(maxConnections: number): void {
    if (maxConnections === this.maxConnections) return;
    this.maxConnections = maxConnections;
    for (const p of this.#pools.values()) void p.close().catch(() => undefined);
    this.#pools.clear();
  }

  /** Drops the pool of an endpoint that left. */
  forget(key: string): void {
    const p = this.#pools.get(key);
    if (p) void p.destroy().catch(() => undefined);
    this.#pools.delete(key);
  }

  close(): void {
    for (const p of this.#pools.values()) void p.destroy().catch(() => undefined);
    this.#pools.clear();
  }
}

// HTTP/1.1 connection pool of one upstream cluster: a node:http Agent whose
// pools are keyed by endpoint, whose connections are opened through the mesh
// delivery (local socket, app port, or tunnel stream: any Duplex) within the
// connect timeout. maxTotalSockets is the cluster's maxConnections: beyond it
// requests wait in the Agent (the breaker's pending count).
import { Agent, type AgentOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ClientIdentity } from '../agent/upstream.js';
import type { MeshUpstream } from './delivery.js';
import type { ProxyEndpoint } from './endpoints.js';
import { socketLike } from './socket-like.js';

/** Request options the pool reads (passed through http.request). */
export interface PoolRequestOptions {
  weftEndpoint: ProxyEndpoint;
  weftPort: number | undefined;
}

export class EndpointHttpPool extends Agent {
  /** Sockets open or being opened (node keeps the count; @types/node does not declare it). */
  get connectionCount(): number {
    return (this as unknown as { totalSocketCount: number }).totalSocketCount;
  }

  constructor(
    private readonly delivery: MeshUpstream,
    private readonly source: ClientIdentity,
    private readonly connectMs: number,
    options: AgentOptions,
  ) {
    super(options);
  }

  override getName(options: object): string {
    const o = options as PoolRequestOptions;
    return o.weftPort === undefined ? o.weftEndpoint.key : `${o.weftEndpoint.key}:${o.weftPort}`;
  }

  // node's Agent accepts a connection handed to the callback (documented form).
  override createConnection(options: object, cb?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const o = options as PoolRequestOptions;
    const ep = o.weftEndpoint;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), this.connectMs);
    this.delivery.open(ep.target, ep.serviceId, this.source, ctl.signal, { port: o.weftPort }).then(
      (stream) => {
        clearTimeout(timer);
        cb!(null, socketLike(stream));
      },
      (err: Error) => {
        clearTimeout(timer);
        cb!(err, undefined as unknown as Duplex);
      },
    );
    return undefined;
  }
}

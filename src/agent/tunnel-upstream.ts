// TunnelUpstream: delivery to a remote endpoint through a tunnel stream. A
// local endpoint goes to the wrapped upstream (the server socket); a remote one
// takes the session to its agent (dialled on demand, one per agent pair) and
// opens a stream naming the service and the client's meshlet. The stream is
// returned once the far agent accepted it — i.e. once it has connected its own
// server socket — so the client gets OK only for a working path.
//
// Failures become UpstreamError kinds, which decide the client's reply code
// (upstream.ts; docs/protocol.md §1.5): the peer cannot be reached or refuses
// → refused (TUNNEL_FAILED); RST UNKNOWN_SERVICE → unknown; RST UNAVAILABLE →
// missing (UNAVAILABLE); RST FORBIDDEN → forbidden; the connect timeout →
// timeout. A stream refused because the session was draining (GOAWAY, or the
// loser of a simultaneous dial) is retried once on the session that replaced it.
import type { Duplex } from 'node:stream';
import { WeftError } from '../errors.js';
import { TunnelErrorCode } from '../kernel/frame.js';
import { TunnelStreamError } from '../tunnel/stream.js';
import type { TunnelPeers } from '../tunnel/peers.js';
import type { Endpoint } from './routing.js';
import { UpstreamError, type ClientIdentity, type Upstream, type UpstreamFailure } from './upstream.js';

export class TunnelUpstream implements Upstream {
  /** Set when tunnels start (AgentTunnels.start). */
  peers: TunnelPeers | undefined;
  /** Streams opened toward peers (metrics). */
  opened = 0;

  constructor(readonly local: Upstream) {}

  async open(endpoint: Endpoint, serviceId: string, source: ClientIdentity, signal: AbortSignal): Promise<Duplex> {
    if (endpoint.kind === 'local') return this.local.open(endpoint, serviceId, source, signal);
    const peers = this.peers;
    if (!peers) throw new UpstreamError('refused', undefined, `tunnels are not running (peer ${endpoint.agentId})`);
    const from = `${source.meshlet}.${source.namespace}`;
    for (let attempt = 0; ; attempt++) {
      let session;
      try {
        session = await peers.session(endpoint.agentId, { signal });
      } catch (e) {
        if (signal.aborted) throw new UpstreamError('timeout', 'ETIMEDOUT', `peer ${endpoint.agentId}: no tunnel session within the connect timeout`);
        throw new UpstreamError('refused', (e as WeftError).code, `peer ${endpoint.agentId}: ${(e as Error).message}`);
      }
      try {
        const stream = await session.openStream(serviceId, from, { signal });
        this.opened++;
        return stream;
      } catch (e) {
        if (signal.aborted) throw new UpstreamError('timeout', 'ETIMEDOUT', `peer ${endpoint.agentId} did not accept the stream within the connect timeout`);
        const retry = e instanceof TunnelStreamError ? e.rstCode === TunnelErrorCode.STREAM_REFUSED : e instanceof WeftError && (e.code === 'WEFT-T013' || e.code === 'WEFT-T008');
        if (retry && attempt === 0) continue;
        throw this.#failure(endpoint.agentId, e);
      }
    }
  }

  #failure(peer: string, e: unknown): UpstreamError {
    const message = `peer ${peer}: ${(e as Error).message}`;
    if (!(e instanceof TunnelStreamError)) return new UpstreamError('refused', (e as WeftError).code, message);
    const kinds: Partial<Record<number, UpstreamFailure>> = {
      [TunnelErrorCode.UNKNOWN_SERVICE]: 'unknown',
      [TunnelErrorCode.UNAVAILABLE]: 'missing',
      [TunnelErrorCode.FORBIDDEN]: 'forbidden',
    };
    return new UpstreamError(kinds[e.rstCode] ?? 'refused', e.rstName, message);
  }
}

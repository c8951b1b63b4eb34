// Streams other agents open to this one. A stream is accepted only for a
// service a local meshlet provides, and only once one of its local instances'
// server sockets has answered; then it is spliced to that socket. Otherwise it
// is refused with an RST code the opening agent turns into its client's reply:
// UNKNOWN_SERVICE (no local meshlet provides it), UNAVAILABLE (no local
// instance with weight, or none answered within the connect timeout).
//
// Trust model: access control (`uses`) is enforced by the agent the client is
// on, which knows which meshlet the client is (its client socket). A peer agent
// proved the cluster secret (and, with pinning, its key); it is trusted to have
// applied its own meshlets' `uses`, so the source meshlet in OPEN is recorded,
// not re-checked. Streams arriving from a peer are never forwarded to a third
// agent (only local instances), so routes cannot loop.
import type { Socket } from 'node:net';
import { TunnelErrorCode } from '../kernel/frame.js';
import type { StreamInfo, TunnelStream } from '../tunnel/stream.js';
import type { Logger } from './log.js';
import type { ServiceRouter } from './routing.js';
import { Splice } from './splice.js';
import { UpstreamError, type Upstream } from './upstream.js';

export interface InboundCounters {
  accepted: number;
  refused: Record<'UNKNOWN_SERVICE' | 'UNAVAILABLE', number>;
  active: number;
  /** Bytes service → peer and peer → service, of streams ended (live ones are added at read time). */
  bytesToPeer: number;
  bytesFromPeer: number;
}

export class InboundStreams {
  readonly counters: InboundCounters = { accepted: 0, refused: { UNKNOWN_SERVICE: 0, UNAVAILABLE: 0 }, active: 0, bytesToPeer: 0, bytesFromPeer: 0 };
  readonly #splices = new Set<Splice>();

  constructor(
    readonly router: ServiceRouter,
    readonly local: Upstream,
    readonly connectMs: number,
    readonly log: Logger,
  ) {}

  /** The tunnel's stream handler: resolves once the stream is accepted or refused. */
  async handle(stream: TunnelStream, info: StreamInfo, peer: string): Promise<void> {
    const route = this.router.servesLocally(info.service) ? this.router.route(info.service) : undefined;
    if (!route) return this.#refuse(stream, 'UNKNOWN_SERVICE');
    const tried = new Set<number>();
    const signal = AbortSignal.timeout(this.connectMs);
    const [ns, meshlet] = info.source.split('.').reverse() as [string, string];
    const source = { namespace: ns, meshlet, instance: `peer:${peer}` };
    for (;;) {
      const index = this.router.pickExcluding(route, tried, true);
      if (index < 0 || signal.aborted) return this.#refuse(stream, 'UNAVAILABLE');
      tried.add(index);
      let socket: Socket;
      try {
        socket = (await this.local.open(route.endpoints[index]!, info.service, source, signal)) as Socket;
      } catch (e) {
        const failure = e instanceof UpstreamError ? e.failure : 'other';
        if (failure !== 'missing') this.log.warn('service connection failed', { service: info.service, from: peer, error: e as Error });
        continue;
      }
      if (stream.destroyed) {
        socket.destroy();
        return;
      }
      stream.accept();
      this.counters.accepted++;
      this.counters.active++;
      const splice = new Splice(socket, stream, 0, this.#ended);
      this.#splices.add(splice);
      return;
    }
  }

  /** One function for every splice's end (no closure per stream). */
  readonly #ended = (s: Splice): void => {
    this.#splices.delete(s);
    this.counters.active--;
    this.counters.bytesToPeer += s.bytesUp;
    this.counters.bytesFromPeer += s.bytesDown;
  };

  #refuse(stream: TunnelStream, code: 'UNKNOWN_SERVICE' | 'UNAVAILABLE'): void {
    this.counters.refused[code]++;
    if (!stream.destroyed) stream.reject(TunnelErrorCode[code]);
  }

  /** Bytes both ways including live streams. */
  bytes(): { toPeer: number; fromPeer: number } {
    let toPeer = this.counters.bytesToPeer;
    let fromPeer = this.counters.bytesFromPeer;
    for (const s of this.#splices) {
      toPeer += s.bytesUp;
      fromPeer += s.bytesDown;
    }
    return { toPeer, fromPeer };
  }

  /** Closes every inbound stream now (drain deadline). */
  abortAll(): void {
    for (const s of this.#splices) s.abort('aborted');
  }
}

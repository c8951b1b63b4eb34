// The wire-side wrapper GossipNode puts between the sealing layer and the
// socket: it counts every byte and datagram that really crosses the network
// (sealed, so the figures are what an operator's firewall sees, minus IP/UDP/TCP
// headers), and it can advertise an address other than the bound one (bind
// 0.0.0.0, advertise the host's routable address; behind NAT, the mapped one).

import type { Address, Transport } from './types.js';

export interface WireStats {
  packetsOut: number;
  packetsIn: number;
  /** Datagram bytes plus request/response payload bytes, each way. */
  bytesOut: number;
  bytesIn: number;
  /** Reliable exchanges (push-pull, join, reliable ping, reliable user message), each way. */
  requestsOut: number;
  requestsIn: number;
  /** Of those, the request bytes sent and reply bytes received (our side of outbound exchanges). */
  requestBytesOut: number;
  requestBytesIn: number;
  /** Inbound exchanges: request bytes received and reply bytes sent. */
  servedBytesIn: number;
  servedBytesOut: number;
}

export class WireTransport implements Transport {
  readonly stats: WireStats = {
    packetsOut: 0,
    packetsIn: 0,
    bytesOut: 0,
    bytesIn: 0,
    requestsOut: 0,
    requestsIn: 0,
    requestBytesOut: 0,
    requestBytesIn: 0,
    servedBytesIn: 0,
    servedBytesOut: 0,
  };
  readonly localAddress: Address;

  constructor(
    private readonly inner: Transport,
    /** The address members use to reach us (default: the bound one). */
    advertise?: Address,
  ) {
    this.localAddress = advertise ?? inner.localAddress;
  }

  sendPacket(to: Address, data: Uint8Array): void {
    this.stats.packetsOut++;
    this.stats.bytesOut += data.length;
    this.inner.sendPacket(to, data);
  }

  onPacket(handler: (from: Address, data: Uint8Array) => void): void {
    this.inner.onPacket((from, data) => {
      this.stats.packetsIn++;
      this.stats.bytesIn += data.length;
      handler(from, data);
    });
  }

  async request(to: Address, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const s = this.stats;
    s.requestsOut++;
    s.bytesOut += data.length;
    s.requestBytesOut += data.length;
    const reply = await this.inner.request(to, data, timeoutMs);
    s.bytesIn += reply.length;
    s.requestBytesIn += reply.length;
    return reply;
  }

  onRequest(handler: (from: Address, data: Uint8Array) => Promise<Uint8Array> | Uint8Array): void {
    this.inner.onRequest(async (from, data) => {
      const s = this.stats;
      s.requestsIn++;
      s.bytesIn += data.length;
      s.servedBytesIn += data.length;
      const reply = await handler(from, data);
      s.bytesOut += reply.length;
      s.servedBytesOut += reply.length;
      return reply;
    });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

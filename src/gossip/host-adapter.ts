// Membership as the state layer's GossipHost. The mux needs a host when it is
// built and membership needs the mux (its delegate) when *it* is built, so the
// adapter is created first with the member id chosen up front, and membership
// is attached once it exists.

import type { GossipHost } from './gossiper.js';
import type { Membership } from './membership.js';

export interface HostAdapterStats {
  /** User messages sent as a datagram. */
  sentDatagram: number;
  /** Too large for a datagram: sent over the reliable channel instead. */
  sentReliable: number;
  /** Reliable sends that failed (peer gone, timeout). */
  reliableFailed: number;
  /** Destination unknown to membership, or membership not attached/stopped. */
  dropped: number;
}

export class MembershipHost implements GossipHost {
  readonly stats: HostAdapterStats = { sentDatagram: 0, sentReliable: 0, reliableFailed: 0, dropped: 0 };
  #membership: Membership | undefined;

  constructor(readonly localId: string) {}

  attach(membership: Membership): void {
    if (membership.id !== this.localId) throw new Error('membership id differs from the host adapter id');
    this.#membership = membership;
  }

  memberCount(): number {
    return this.#membership?.size ?? 1;
  }

  sendTo(memberId: string, message: Uint8Array): void {
    const m = this.#membership;
    if (!m || m.member(memberId) === undefined) {
      this.stats.dropped++;
      return;
    }
    if (m.sendUserMessage(memberId, message)) {
      this.stats.sentDatagram++;
      return;
    }
    // Known member but over the datagram size: the reliable channel carries it (best effort still).
    this.stats.sentReliable++;
    m.sendUserMessageReliable(memberId, message).catch(() => {
      this.stats.reliableFailed++;
    });
  }
}

// Runs any state CRDT whose merge returns a delta (LwwMap, OrSet) as a gossip
// channel: received updates are decoded and merged, and what was new spreads
// further; the full state answers push-pull.

import type { GossipChannel, GossipData, Gossiper, GossipMux, ChannelOptions } from '../gossiper.js';

export type Decoder = (bytes: Uint8Array) => GossipData | null;

export class CrdtGossiper<T extends GossipData> implements Gossiper {
  /** Updates that failed to decode. */
  malformed = 0;

  constructor(
    readonly state: T,
    private readonly decode: Decoder,
  ) {}

  onGossip(update: Uint8Array): GossipData | null {
    const data = this.decode(update);
    if (!data) {
      this.malformed++;
      return null;
    }
    return this.state.merge(data);
  }

  onGossipBroadcast(_origin: string, update: Uint8Array): GossipData | null {
    return this.onGossip(update);
  }

  onGossipUnicast(_source: string, message: Uint8Array): void {
    this.onGossip(message);
  }

  gossip(): GossipData | null {
    return this.state;
  }
}

/** A CRDT replica wired to a channel: local changes go out through `publish`. */
export interface Replicated<T extends GossipData> {
  readonly state: T;
  readonly channel: GossipChannel;
  readonly gossiper: CrdtGossiper<T>;
  publish(delta: GossipData | null): void;
}

export function replicate<T extends GossipData>(
  mux: GossipMux,
  name: string,
  state: T,
  decode: Decoder,
  options?: ChannelOptions,
): Replicated<T> {
  const gossiper = new CrdtGossiper(state, decode);
  const channel = mux.register(name, gossiper, options);
  return {
    state,
    channel,
    gossiper,
    publish(delta) {
      if (delta) channel.gossip(delta);
    },
  };
}

// The state layer's gossip API, after weaveworks/mesh's Gossiper: a user type
// merges updates and says what was new; channels are multiplexed by name over
// the one GossipDelegate that membership drives. Updates spread epidemically
// through the broadcast queue (piggybacked on membership packets; a member
// re-broadcasts only the part of an update that was new to it, so spreading
// stops by itself), unicasts are routed over the topology, and the full state
// of every channel travels in membership's push-pull (join and anti-entropy).
//
// Wire messages (each one item of takeBroadcasts / one onMessage):
//   GOSSIP    u8 1 | channel str | payload…
//   BROADCAST u8 2 | channel str | origin str | payload…
//   UNICAST   u8 3 | channel str | source str | destination str | hops left u8 | payload…
// Full state (localState / mergeRemoteState):
//   u8 version 1 | count varuint | count × (channel str | state bytes)
// Strings and byte fields are varuint-length-prefixed (codec.ts).

import { BroadcastQueue, type BroadcastQueueOptions } from './broadcast-queue.js';
import { ByteReader, ByteWriter } from './codec.js';
import type { GossipDelegate, MembershipEvent } from './types.js';

/** Mergeable state or a delta of it. */
export interface GossipData {
  encode(): Uint8Array;
  /** Merge `other` into this; return what was new to this (a delta), or null if nothing was. */
  merge(other: GossipData): GossipData | null;
  /** Optional: a broadcast with the same key supersedes this one while both are queued. */
  broadcastKey?(): string | undefined;
  /** Optional: smaller pieces (e.g. one per key) when the whole is too big to piggyback. */
  split?(): GossipData[];
}

/** What a channel's owner implements (weave mesh's Gossiper). Updates arrive encoded. */
export interface Gossiper {
  /** Merge a gossiped update; return what was new (spread further), or null. */
  onGossip(update: Uint8Array): GossipData | null;
  /** Merge an update first broadcast by `origin`; return what was new (spread further), or null. */
  onGossipBroadcast(origin: string, update: Uint8Array): GossipData | null;
  /** A message addressed to this member only. */
  onGossipUnicast(source: string, message: Uint8Array): void;
  /** The full state, for push-pull; null when there is none. */
  gossip(): GossipData | null;
}

/**
 * What the state layer needs from membership besides the GossipDelegate
 * callbacks: who we are, how many members there are (the retransmit limit
 * scales with log N) and a way to send a user message to one member.
 */
export interface GossipHost {
  readonly localId: string;
  /** Live members, counting this one. */
  memberCount(): number;
  /** Send one user message to a member over a direct link (best effort, like a UDP packet). */
  sendTo(memberId: string, message: Uint8Array): void;
}

/** Next hop towards a member, or null when it cannot be reached. */
export type RouteFn = (toMemberId: string) => string | null;

export interface GossipMuxOptions {
  host: GossipHost;
  /** Unicast routing; default: every member is one hop away (a direct send). */
  route?: RouteFn;
  retransmitMult?: BroadcastQueueOptions['retransmitMult'];
  maxQueued?: BroadcastQueueOptions['maxQueued'];
  /** Unicasts are dropped after this many hops (a routing loop while topology converges). */
  maxHops?: number;
  /** A queued message larger than this is not broadcast (it would never fit a packet); full sync carries it. */
  maxBroadcastBytes?: number;
}

export interface ChannelOptions {
  /**
   * Re-broadcast what a full-state merge taught us (default true: a joiner's
   * state reaches everyone quickly). Topology turns this off: each member
   * broadcasts only its own entry and anti-entropy carries the rest (mesh#108).
   */
  spreadSyncDeltas?: boolean;
}

export interface GossipStats {
  broadcastsQueued: number;
  oversizedDropped: number;
  messagesReceived: number;
  malformedDropped: number;
  unknownChannelDropped: number;
  gossiperErrors: number;
  unicastsForwarded: number;
  unicastsUnroutable: number;
}

export const DEFAULT_MAX_HOPS = 16;
export const DEFAULT_MAX_BROADCAST_BYTES = 1200;

const KIND_GOSSIP = 1;
const KIND_BROADCAST = 2;
const KIND_UNICAST = 3;
const STATE_VERSION = 1;

/** A named channel: how a Gossiper sends. */
export class GossipChannel {
  constructor(
    private readonly mux: GossipMux,
    readonly name: string,
    readonly gossiper: Gossiper,
    readonly options: Required<ChannelOptions>,
  ) {}

  /** Spread an update to every member (epidemic; receivers call onGossip). */
  gossip(data: GossipData): void {
    this.mux.enqueue(KIND_GOSSIP, this.name, undefined, data);
  }

  /** Spread an update to every member, tagged with this member as origin (receivers call onGossipBroadcast). */
  broadcast(data: GossipData): void {
    this.mux.enqueue(KIND_BROADCAST, this.name, this.mux.localId, data);
  }

  /** Send to one member, over several hops if the route says so. False if there is no route. */
  unicast(toMemberId: string, message: Uint8Array): boolean {
    return this.mux.unicast(this.name, toMemberId, message);
  }
}

export class GossipMux implements GossipDelegate {
  readonly queue: BroadcastQueue;
  readonly stats: GossipStats = {
    broadcastsQueued: 0,
    oversizedDropped: 0,
    messagesReceived: 0,
    malformedDropped: 0,
    unknownChannelDropped: 0,
    gossiperErrors: 0,
    unicastsForwarded: 0,
    unicastsUnroutable: 0,
  };
  private readonly host: GossipHost;
  private routeFn: RouteFn;
  private readonly maxHops: number;
  private readonly maxBroadcastBytes: number;
  private readonly channels = new Map<string, GossipChannel>();
  private readonly membershipListeners: ((event: MembershipEvent) => void)[] = [];

  constructor(options: GossipMuxOptions) {
    this.host = options.host;
    this.routeFn = options.route ?? ((to) => to);
    this.maxHops = options.maxHops ?? DEFAULT_MAX_HOPS;
    this.maxBroadcastBytes = options.maxBroadcastBytes ?? DEFAULT_MAX_BROADCAST_BYTES;
    this.queue = new BroadcastQueue({
      memberCount: () => this.host.memberCount(),
      retransmitMult: options.retransmitMult,
      maxQueued: options.maxQueued,
    });
  }

  get localId(): string {
    return this.host.localId;
  }

  /** Register a channel; names are unique. */
  register(name: string, gossiper: Gossiper, options: ChannelOptions = {}): GossipChannel {
    if (this.channels.has(name)) throw new Error(`gossip channel already registered: ${name}`);
    const channel = new GossipChannel(this, name, gossiper, { spreadSyncDeltas: options.spreadSyncDeltas ?? true });
    this.channels.set(name, channel);
    return channel;
  }

  channel(name: string): GossipChannel | undefined {
    return this.channels.get(name);
  }

  /** Replace the unicast routing hook (e.g. with Topology.route once it exists). */
  setRoute(route: RouteFn): void {
    this.routeFn = route;
  }

  /** Next hop towards a member, or null (the hook the tunnels use for relays too). */
  route(toMemberId: string): string | null {
    if (toMemberId === this.localId) return this.localId;
    return this.routeFn(toMemberId);
  }

  /** Membership feeds its events here; state layers that track members subscribe. */
  handleMembershipEvent(event: MembershipEvent): void {
    for (const listener of this.membershipListeners) listener(event);
  }

  onMembershipEvent(listener: (event: MembershipEvent) => void): void {
    this.membershipListeners.push(listener);
  }

  // ---- GossipDelegate ----

  takeBroadcasts(overhead: number, limit: number): Uint8Array[] {
    return this.queue.take(overhead, limit);
  }

  onMessage(from: string, data: Uint8Array): void {
    this.stats.messagesReceived++;
    const r = new ByteReader(data);
    const kind = r.u8();
    const name = r.string();
    if (!r.ok) return void this.stats.malformedDropped++;
    const channel = this.channels.get(name);
    if (kind === KIND_GOSSIP) {
      if (!channel) return void this.stats.unknownChannelDropped++;
      const payload = data.subarray(r.offset);
      const delta = this.call(() => channel.gossiper.onGossip(payload));
      if (delta) this.enqueue(KIND_GOSSIP, name, undefined, delta);
    } else if (kind === KIND_BROADCAST) {
      const origin = r.string();
      if (!r.ok) return void this.stats.malformedDropped++;
      if (!channel) return void this.stats.unknownChannelDropped++;
      const payload = data.subarray(r.offset);
      const delta = this.call(() => channel.gossiper.onGossipBroadcast(origin, payload));
      if (delta) this.enqueue(KIND_BROADCAST, name, origin, delta);
    } else if (kind === KIND_UNICAST) {
      const source = r.string();
      const destination = r.string();
      const hopsLeft = r.u8();
      if (!r.ok) return void this.stats.malformedDropped++;
      const payload = data.subarray(r.offset);
      if (destination === this.localId) {
        if (!channel) return void this.stats.unknownChannelDropped++;
        this.call(() => channel.gossiper.onGossipUnicast(source, payload));
        return;
      }
      if (hopsLeft <= 1) return void this.stats.unicastsUnroutable++;
      if (this.forward(name, source, destination, hopsLeft - 1, payload)) this.stats.unicastsForwarded++;
    } else {
      this.stats.malformedDropped++;
    }
    void from; // the relaying member; origins travel inside the message
  }

  localState(_join: boolean): Uint8Array {
    const w = new ByteWriter(1024);
    const states: [string, Uint8Array][] = [];
    for (const [name, channel] of this.channels) {
      const data = this.call(() => channel.gossiper.gossip());
      if (data) states.push([name, data.encode()]);
    }
    w.u8(STATE_VERSION).varuint(states.length);
    for (const [name, bytes] of states) w.string(name).bytes(bytes);
    return w.finish();
  }

  mergeRemoteState(data: Uint8Array, _join: boolean): void {
    const r = new ByteReader(data);
    if (r.u8() !== STATE_VERSION) return void this.stats.malformedDropped++;
    const n = r.count(2);
    for (let i = 0; i < n && r.ok; i++) {
      const name = r.string();
      const bytes = r.raw(r.varuint());
      if (!r.ok) break;
      const channel = this.channels.get(name);
      if (!channel) {
        this.stats.unknownChannelDropped++;
        continue;
      }
      const delta = this.call(() => channel.gossiper.onGossip(bytes));
      if (delta && channel.options.spreadSyncDeltas) this.enqueue(KIND_GOSSIP, name, undefined, delta);
    }
    if (!r.ok) this.stats.malformedDropped++;
  }

  // ---- sending ----

  /** @internal used by GossipChannel */
  enqueue(kind: number, channel: string, origin: string | undefined, data: GossipData): void {
    const w = new ByteWriter(64).u8(kind).string(channel);
    if (origin !== undefined) w.string(origin);
    const message = w.raw(data.encode()).finish();
    if (message.length > this.maxBroadcastBytes) {
      const parts = data.split?.() ?? [];
      if (parts.length > 1) for (const part of parts) this.enqueue(kind, channel, origin, part);
      else this.stats.oversizedDropped++;
      return;
    }
    const key = data.broadcastKey?.();
    this.queue.enqueue(message, key === undefined ? undefined : `${channel}\0${key}`);
    this.stats.broadcastsQueued++;
  }

  /** @internal used by GossipChannel */
  unicast(channel: string, to: string, payload: Uint8Array): boolean {
    if (to === this.localId) {
      const ch = this.channels.get(channel);
      if (!ch) return false;
      this.call(() => ch.gossiper.onGossipUnicast(this.localId, payload));
      return true;
    }
    return this.forward(channel, this.localId, to, this.maxHops, payload);
  }

  private forward(channel: string, source: string, destination: string, hopsLeft: number, payload: Uint8Array): boolean {
    const hop = this.routeFn(destination);
    if (hop === null || hop === this.localId) {
      this.stats.unicastsUnroutable++;
      return false;
    }
    const message = new ByteWriter(payload.length + 64)
      .u8(KIND_UNICAST)
      .string(channel)
      .string(source)
      .string(destination)
      .u8(Math.min(255, hopsLeft))
      .raw(payload)
      .finish();
    this.host.sendTo(hop, message);
    return true;
  }

  /** User gossiper code must not take the delegate down with it: count and carry on. */
  private call<T>(fn: () => T): T | null {
    try {
      return fn();
    } catch {
      this.stats.gossiperErrors++;
      return null;
    }
  }
}

// Topology (after weaveworks/mesh): each member gossips whom it is directly
// connected to, as an entry (peer ids + a version it bumps on every change).
// Entries merge per member by version. Unicast follows the shortest path
// (BFS, unweighted) over the connections both ends report, recomputed lazily
// after a change.
//
// Cost (mesh#108): a member broadcasts only its own entry when it changes; a
// receiver re-broadcasts an entry only if it was new to it, so one change
// costs O(N log N) entry transmissions. Entries learnt by full-state sync are
// not re-broadcast (the channel turns spreadSyncDeltas off): anti-entropy
// carries them. See docs/gossip-state.md for the measurement.
//
// Encoding: u8 version 1 | count varuint | count × (member str | version varuint | peers varuint | peers × str)

import { ByteReader, ByteWriter } from './codec.js';
import type { GossipChannel, GossipData, Gossiper, GossipMux } from './gossiper.js';
import { ForgottenMembers } from './shared-values.js';
import type { Clock, MembershipEvent } from './types.js';

export interface TopologyEntry {
  readonly version: number;
  readonly peers: readonly string[];
}

export interface TopologyOptions {
  mux: GossipMux;
  clock: Clock;
  /** Channel name (default "topology"). */
  channel?: string;
  /** Route only over connections both ends report (weave mesh's rule; default true). */
  symmetric?: boolean;
  /** Install `route` as the mux's unicast routing hook (default true). */
  installRoute?: boolean;
}

export const MAX_PEERS_PER_ENTRY = 4096;
const VERSION = 1;

/** A set of entries: the full topology or a delta of it. */
export class TopologyData implements GossipData {
  readonly entries = new Map<string, TopologyEntry>();

  /** Keep entries with a higher version than ours; return those that were new. */
  merge(other: GossipData): TopologyData | null {
    if (!(other instanceof TopologyData)) return null;
    const delta = new TopologyData();
    for (const [id, e] of other.entries) {
      const cur = this.entries.get(id);
      if (cur && cur.version >= e.version) continue;
      this.entries.set(id, e);
      delta.entries.set(id, e);
    }
    return delta.entries.size > 0 ? delta : null;
  }

  broadcastKey(): string | undefined {
    return this.entries.size === 1 ? this.entries.keys().next().value : undefined;
  }

  split(): TopologyData[] {
    return [...this.entries].map(([id, e]) => {
      const part = new TopologyData();
      part.entries.set(id, e);
      return part;
    });
  }

  encode(): Uint8Array {
    const w = new ByteWriter(32 + this.entries.size * 64);
    w.u8(VERSION).varuint(this.entries.size);
    for (const [id, e] of this.entries) {
      w.string(id).varuint(e.version).varuint(e.peers.length);
      for (const p of e.peers) w.string(p);
    }
    return w.finish();
  }

  static decode(bytes: Uint8Array): TopologyData | null {
    const r = new ByteReader(bytes);
    if (r.u8() !== VERSION) return null;
    const n = r.count(3);
    const data = new TopologyData();
    for (let i = 0; i < n && r.ok; i++) {
      const id = r.string();
      const version = r.varuint();
      const count = r.count(1);
      if (count > MAX_PEERS_PER_ENTRY) r.fail();
      const peers: string[] = [];
      for (let j = 0; j < count && r.ok; j++) peers.push(r.string());
      const cur = data.entries.get(id);
      if (r.ok && (!cur || cur.version < version)) data.entries.set(id, { version, peers });
    }
    return r.done ? data : null;
  }
}

export class Topology implements Gossiper {
  readonly localId: string;
  private readonly data = new TopologyData();
  private readonly channel: GossipChannel;
  private readonly symmetric: boolean;
  private readonly forgotten: ForgottenMembers;
  private localVersion = 0;
  private nextHops: Map<string, string> | null = null;
  private readonly listeners: (() => void)[] = [];
  malformed = 0;

  constructor(options: TopologyOptions) {
    this.localId = options.mux.localId;
    this.symmetric = options.symmetric ?? true;
    this.forgotten = new ForgottenMembers(options.clock);
    this.channel = options.mux.register(options.channel ?? 'topology', this, { spreadSyncDeltas: false });
    this.data.entries.set(this.localId, { version: 0, peers: [] });
    options.mux.onMembershipEvent((e) => this.handleMembershipEvent(e));
    if (options.installRoute ?? true) options.mux.setRoute((to) => this.route(to));
  }

  /** Replace this member's direct connections; broadcasts the new entry if they changed. */
  setConnections(peers: Iterable<string>): void {
    const next = [...new Set(peers)].filter((p) => p !== this.localId).sort();
    const cur = this.data.entries.get(this.localId)!.peers;
    if (next.length === cur.length && next.every((p, i) => p === cur[i])) return;
    const entry: TopologyEntry = { version: ++this.localVersion, peers: next };
    this.data.entries.set(this.localId, entry);
    const delta = new TopologyData();
    delta.entries.set(this.localId, entry);
    this.changed();
    this.channel.gossip(delta);
  }

  addConnection(peer: string): void {
    this.setConnections([...this.connections(), peer]);
  }

  removeConnection(peer: string): void {
    this.setConnections(this.connections().filter((p) => p !== peer));
  }

  /** A member's reported connections (this member's by default). */
  connections(memberId = this.localId): readonly string[] {
    return this.data.entries.get(memberId)?.peers ?? [];
  }

  entry(memberId: string): TopologyEntry | undefined {
    return this.data.entries.get(memberId);
  }

  members(): string[] {
    return [...this.data.entries.keys()];
  }

  /** Next hop towards `to` on a shortest path, `to` itself if directly connected, null if unreachable. */
  route(to: string): string | null {
    if (to === this.localId) return to;
    return this.routes().get(to) ?? null;
  }

  /** Destination → next hop for every reachable member. */
  routes(): ReadonlyMap<string, string> {
    if (!this.nextHops) this.nextHops = this.computeRoutes();
    return this.nextHops;
  }

  /** Called after any change of the graph (e.g. for the tunnel layer's relays). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  forgetMember(memberId: string): void {
    if (memberId === this.localId) return;
    this.forgotten.add(memberId);
    if (this.data.entries.delete(memberId)) this.changed();
  }

  handleMembershipEvent(event: MembershipEvent): void {
    if (event.type === 'fail' || event.type === 'leave' || event.type === 'reap') this.forgetMember(event.member.id);
    else if (event.type === 'join' || event.type === 'alive') this.forgotten.delete(event.member.id);
  }

  /** Full topology size when encoded (what push-pull carries). */
  encodedSize(): number {
    return this.data.encode().length;
  }

  // ---- Gossiper ----

  onGossip(update: Uint8Array): GossipData | null {
    const incoming = TopologyData.decode(update);
    if (!incoming) {
      this.malformed++;
      return null;
    }
    incoming.entries.delete(this.localId); // only we speak for ourselves
    for (const id of [...incoming.entries.keys()]) if (this.forgotten.has(id)) incoming.entries.delete(id);
    const delta = this.data.merge(incoming);
    if (delta) this.changed();
    return delta;
  }

  onGossipBroadcast(_origin: string, update: Uint8Array): GossipData | null {
    return this.onGossip(update);
  }

  onGossipUnicast(): void {}

  gossip(): GossipData {
    return this.data;
  }

  private changed(): void {
    this.nextHops = null;
    for (const l of this.listeners) l();
  }

  /**
   * BFS from this member. Our own connections are trusted as first hops; past
   * them an edge u → v counts only if v reports u too (when symmetric), so a
   * stale one-sided entry cannot attract traffic.
   */
  private computeRoutes(): Map<string, string> {
    const peerSets = new Map<string, Set<string>>();
    const peersOf = (id: string): Set<string> | undefined => {
      let set = peerSets.get(id);
      if (!set) {
        const e = this.data.entries.get(id);
        if (!e) return undefined;
        peerSets.set(id, (set = new Set(e.peers)));
      }
      return set;
    };
    const hops = new Map<string, string>();
    const queue: string[] = [];
    for (const p of this.connections()) {
      hops.set(p, p);
      queue.push(p);
    }
    for (let i = 0; i < queue.length; i++) {
      const u = queue[i]!;
      const via = hops.get(u)!;
      for (const v of this.data.entries.get(u)?.peers ?? []) {
        if (v === this.localId || hops.has(v)) continue;
        if (this.symmetric && !peersOf(v)?.has(u)) continue;
        hops.set(v, via);
        queue.push(v);
      }
    }
    return hops;
  }
}

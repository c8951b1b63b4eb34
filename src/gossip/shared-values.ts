// Shared values (after skipper's swarm): every member publishes its own value
// under a key, `values(key)` returns the latest value from each member. Stored
// in a last-writer-wins map keyed by (member, key) where only the member itself
// writes its entries (entries stamped by anyone else are refused). When
// membership declares a member failed, left or reaped, its entries are dropped
// locally and refused until it is seen alive again.

import { HybridLogicalClock } from './crdt/hlc.js';
import { LwwMap } from './crdt/lww-map.js';
import type { GossipChannel, GossipData, Gossiper, GossipMux } from './gossiper.js';
import type { Clock, MembershipEvent } from './types.js';

export interface SharedValuesOptions {
  mux: GossipMux;
  clock: Clock;
  /** Channel name (default "shared"). */
  channel?: string;
  /** How long an unshared key's tombstone is kept (default 10 min; a resurrected stale value is overwritten or ignored). */
  tombstoneTtlMs?: number;
  /** How long a dead member's entries are refused (default 1 h; longer than any partition you expect). */
  forgetTtlMs?: number;
}

export type SharedValueListener = (key: string, memberId: string, value: Uint8Array | null) => void;

export const DEFAULT_SHARED_TOMBSTONE_TTL_MS = 10 * 60 * 1000;
export const DEFAULT_FORGET_TTL_MS = 60 * 60 * 1000;
/** Cap on remembered dead members (restarts mint new ids; the oldest are let go first). */
export const MAX_FORGOTTEN_MEMBERS = 10_000;
const SEPARATOR = '\u0000';
const EMPTY_VALUES: ReadonlyMap<string, Uint8Array> = new Map();

function entryKey(memberId: string, key: string): string {
  return memberId + SEPARATOR + key;
}

function splitKey(k: string): [memberId: string, key: string] | null {
  const i = k.indexOf(SEPARATOR);
  return i < 0 ? null : [k.slice(0, i), k.slice(i + 1)];
}

/**
 * Members declared dead, remembered for a while so gossip from a lagging peer
 * cannot bring their entries back. Bounded in time and in count.
 */
export class ForgottenMembers {
  /** member → when it was forgotten (insertion order = age). */
  private readonly at = new Map<string, number>();

  constructor(
    private readonly clock: Pick<Clock, 'now'>,
    private readonly ttlMs = DEFAULT_FORGET_TTL_MS,
    private readonly max = MAX_FORGOTTEN_MEMBERS,
  ) {}

  add(memberId: string): void {
    this.at.delete(memberId);
    this.at.set(memberId, this.clock.now());
    const horizon = this.clock.now() - this.ttlMs;
    for (const [id, t] of this.at) {
      if (t >= horizon && this.at.size <= this.max) break;
      this.at.delete(id);
    }
  }

  /** Seen alive again. */
  delete(memberId: string): void {
    this.at.delete(memberId);
  }

  has(memberId: string): boolean {
    const t = this.at.get(memberId);
    if (t === undefined) return false;
    if (this.clock.now() - t <= this.ttlMs) return true;
    this.at.delete(memberId);
    return false;
  }
}

export class SharedValues implements Gossiper {
  readonly localId: string;
  private readonly map: LwwMap;
  private readonly channel: GossipChannel;
  /** key → member → value: values(key) without scanning every entry. */
  private readonly index = new Map<string, Map<string, Uint8Array>>();
  private readonly forgotten: ForgottenMembers;
  private readonly listeners: SharedValueListener[] = [];
  /** Entries refused: written by another member than their owner, or from a forgotten member. */
  refused = 0;
  malformed = 0;

  constructor(options: SharedValuesOptions) {
    this.localId = options.mux.localId;
    this.forgotten = new ForgottenMembers(options.clock, options.forgetTtlMs);
    this.map = new LwwMap({
      clock: new HybridLogicalClock(this.localId, options.clock),
      time: options.clock,
      tombstoneTtlMs: options.tombstoneTtlMs ?? DEFAULT_SHARED_TOMBSTONE_TTL_MS,
    });
    this.map.onChange((k, value) => this.reindex(k, value));
    this.channel = options.mux.register(options.channel ?? 'shared', this);
    options.mux.onMembershipEvent((e) => this.handleMembershipEvent(e));
  }

  /** Publish this member's value for `key` (replaces its previous one). */
  share(key: string, value: Uint8Array): void {
    this.channel.gossip(this.map.set(entryKey(this.localId, key), value));
  }

  /** Withdraw this member's value for `key`. */
  unshare(key: string): void {
    if (this.map.has(entryKey(this.localId, key))) this.channel.gossip(this.map.delete(entryKey(this.localId, key)));
  }

  /** The latest value from each member that shares `key` (this one included). */
  values(key: string): Map<string, Uint8Array> {
    return new Map(this.index.get(key) ?? []);
  }

  /** A live read-only view of values(key), without the copy (for per-request readers such as the rate limiter). */
  valuesView(key: string): ReadonlyMap<string, Uint8Array> {
    return this.index.get(key) ?? EMPTY_VALUES;
  }

  /** The value a member shares under `key`. */
  value(key: string, memberId: string): Uint8Array | undefined {
    return this.index.get(key)?.get(memberId);
  }

  keys(): string[] {
    return [...this.index.keys()];
  }

  onChange(listener: SharedValueListener): void {
    this.listeners.push(listener);
  }

  /** Drop a member's values and refuse them until it is seen alive again. */
  forgetMember(memberId: string): void {
    if (memberId === this.localId) return;
    this.forgotten.add(memberId);
    this.map.purge((k) => splitKey(k)?.[0] === memberId);
  }

  handleMembershipEvent(event: MembershipEvent): void {
    if (event.type === 'fail' || event.type === 'leave' || event.type === 'reap') this.forgetMember(event.member.id);
    else if (event.type === 'join' || event.type === 'alive') this.forgotten.delete(event.member.id);
  }

  // ---- Gossiper ----

  onGossip(update: Uint8Array): GossipData | null {
    const incoming = LwwMap.decode(update);
    if (!incoming) {
      this.malformed++;
      return null;
    }
    const accepted = new LwwMap();
    for (const [k, entry] of incoming.allEntries()) {
      const owner = splitKey(k)?.[0];
      if (owner === undefined || owner !== entry.ts.node || this.forgotten.has(owner)) this.refused++;
      else accepted.put(k, entry);
    }
    return this.map.merge(accepted);
  }

  onGossipBroadcast(_origin: string, update: Uint8Array): GossipData | null {
    return this.onGossip(update);
  }

  onGossipUnicast(): void {}

  gossip(): GossipData {
    return this.map;
  }

  private reindex(k: string, value: Uint8Array | null): void {
    const parts = splitKey(k);
    if (!parts) return;
    const [memberId, key] = parts;
    let members = this.index.get(key);
    if (value === null) {
      members?.delete(memberId);
      if (members?.size === 0) this.index.delete(key);
    } else {
      if (!members) this.index.set(key, (members = new Map()));
      members.set(memberId, value);
    }
    for (const l of this.listeners) l(key, memberId, value);
  }
}

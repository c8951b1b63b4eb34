// A cluster-wide rate limiter with no external service (after skipper's
// clusterRatelimit over swarm): each member counts its own admitted requests
// per key in time slots and shares the recent slots as a shared value; allow()
// compares the cluster-wide sum over a sliding window with the limit.
//
// The window is `slots` slots of windowMs/slots; the slot that straddles the
// window's start is weighted by how much of it is still inside (the usual
// sliding-window counter). Slot indices are absolute (floor(time / slotMs)) so
// members agree on them as far as their clocks agree. Remote counts lag by the
// share interval plus gossip latency: the cluster can overshoot the limit by
// what members admit within that lag — the price of having no central counter.
//
// Shared value (key "rl/<name>/<key>"):
//   u8 version 1 | slotMs varuint | first slot varuint | n varuint | n × count varuint

import { ByteReader, ByteWriter } from './codec.js';
import type { SharedValues } from './shared-values.js';
import type { Clock, TimerHandle } from './types.js';

export interface ClusterRateLimiterOptions {
  shared: SharedValues;
  clock: Clock;
  /** Admitted requests (or cost units) per window, summed over the cluster. */
  limit: number;
  /** Sliding window length (default 1 s). */
  windowMs?: number;
  /** Slots per window (default 10): finer slots slide more smoothly, cost more bytes. */
  slots?: number;
  /** Share local counts at most this often (default one slot). */
  shareIntervalMs?: number;
  /** Distinguishes limiters sharing one SharedValues (default "default"). */
  name?: string;
}

interface SlotCounts {
  first: number;
  counts: number[];
}

const VERSION = 1;

export class ClusterRateLimiter {
  readonly limit: number;
  readonly windowMs: number;
  readonly slots: number;
  private readonly slotMs: number;
  private readonly shareIntervalMs: number;
  private readonly prefix: string;
  private readonly shared: SharedValues;
  private readonly clock: Clock;
  /** key → slot index → local count. */
  private readonly local = new Map<string, Map<number, number>>();
  private readonly dirty = new Set<string>();
  private readonly decoded = new WeakMap<Uint8Array, SlotCounts | null>();
  private timer: TimerHandle | undefined;
  private timerDue = 0;
  private closed = false;

  constructor(options: ClusterRateLimiterOptions) {
    this.shared = options.shared;
    this.clock = options.clock;
    this.limit = options.limit;
    this.windowMs = options.windowMs ?? 1000;
    this.slots = options.slots ?? 10;
    this.slotMs = this.windowMs / this.slots;
    if (!Number.isInteger(this.slotMs) || this.slotMs < 1) throw new RangeError('windowMs must be a whole multiple of slots');
    this.shareIntervalMs = options.shareIntervalMs ?? this.slotMs;
    this.prefix = `rl/${options.name ?? 'default'}/`;
  }

  /** Admit `cost` units for `key` if the cluster-wide count stays within the limit; counts it if so. */
  allow(key: string, cost = 1): boolean {
    if (this.count(key) + cost > this.limit) return false;
    const slot = Math.floor(this.clock.now() / this.slotMs);
    let slots = this.local.get(key);
    if (!slots) this.local.set(key, (slots = new Map()));
    slots.set(slot, (slots.get(slot) ?? 0) + cost);
    this.dirty.add(key);
    this.scheduleShare();
    return true;
  }

  /** Cluster-wide count in the sliding window ending now: local counts plus every other member's shared ones. */
  count(key: string): number {
    const now = this.clock.now();
    let total = this.windowSum(now, (slot) => this.local.get(key)?.get(slot) ?? 0);
    for (const [member, bytes] of this.shared.valuesView(this.prefix + key)) {
      if (member === this.shared.localId) continue; // our own live counts are fresher
      const remote = this.decode(bytes);
      if (remote) total += this.windowSum(now, (slot) => remote.counts[slot - remote.first] ?? 0);
    }
    return total;
  }

  /** Share the counts of every key that changed now (instead of at the next interval). */
  flush(): void {
    if (this.timer) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    const current = Math.floor(this.clock.now() / this.slotMs);
    const oldest = current - this.slots; // the partly-covered slot
    for (const key of this.dirty) {
      const slots = this.local.get(key);
      for (const s of [...(slots?.keys() ?? [])]) if (s < oldest) slots!.delete(s);
      if (!slots || slots.size === 0) {
        this.local.delete(key);
        this.shared.unshare(this.prefix + key);
        continue;
      }
      const counts: number[] = [];
      for (let s = oldest; s <= current; s++) counts.push(slots.get(s) ?? 0);
      const w = new ByteWriter(16 + counts.length).u8(VERSION).varuint(this.slotMs).varuint(oldest).varuint(counts.length);
      for (const c of counts) w.varuint(c);
      this.shared.share(this.prefix + key, w.finish());
    }
    this.dirty.clear();
    // Keys with counts still inside the window must be re-shared once they age out, to withdraw them.
    for (const key of this.local.keys()) this.dirty.add(key);
    if (this.dirty.size > 0) this.scheduleShare(this.windowMs);
  }

  close(): void {
    this.closed = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Arm the share timer, or bring it forward if it is due later than `delay` from now. */
  private scheduleShare(delay = this.shareIntervalMs): void {
    if (this.closed) return;
    const due = this.clock.now() + delay;
    if (this.timer) {
      if (this.timerDue <= due) return;
      this.clock.clearTimeout(this.timer);
    }
    this.timerDue = due;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, delay);
  }

  /** Sum of slot counts over the window ending at `now`, the straddling slot weighted by its overlap. */
  private windowSum(now: number, countAt: (slot: number) => number): number {
    const current = Math.floor(now / this.slotMs);
    let sum = 0;
    for (let s = current - this.slots + 1; s <= current; s++) sum += countAt(s);
    const insideFraction = 1 - (now - current * this.slotMs) / this.slotMs;
    return sum + countAt(current - this.slots) * insideFraction;
  }

  private decode(bytes: Uint8Array): SlotCounts | null {
    const cached = this.decoded.get(bytes);
    if (cached !== undefined) return cached;
    const r = new ByteReader(bytes);
    let result: SlotCounts | null = null;
    if (r.u8() === VERSION && r.varuint() === this.slotMs) {
      const first = r.varuint();
      const n = r.count(1);
      const counts: number[] = [];
      for (let i = 0; i < n && r.ok; i++) counts.push(r.varuint());
      if (r.done) result = { first, counts };
    }
    this.decoded.set(bytes, result);
    return result;
  }
}

// The queue of membership updates waiting to be piggybacked on outgoing
// packets. Each update is sent at most `limit` times (retransmitMult ×
// ceil(log10(N + 1)), passed in by the caller since N changes), fewest
// transmissions first and newest first among equals, so fresh news spreads
// before old news is repeated. A newer update about a member replaces any
// queued older one about the same member.

import { MESSAGE_FRAME_OVERHEAD } from './messages.js';

interface Item {
  readonly key: string;
  readonly msg: Uint8Array;
  transmits: number;
  live: boolean;
}

/** How many items that do not fit one call may be passed over before giving up. */
const MAX_SKIPS = 16;

export class BroadcastQueue {
  /** buckets[t] holds the items sent t times, oldest first. */
  private buckets: Item[][] = [[]];
  private readonly byKey = new Map<string, Item>();
  private liveCount = 0;

  constructor(private readonly maxQueued: number) {}

  get size(): number {
    return this.liveCount;
  }

  /** Queues an encoded message about member `key`, replacing an older one about the same member. */
  push(key: string, msg: Uint8Array): void {
    const old = this.byKey.get(key);
    if (old) {
      old.live = false;
      this.liveCount--;
    }
    const item: Item = { key, msg, transmits: 0, live: true };
    this.byKey.set(key, item);
    this.buckets[0].push(item);
    this.liveCount++;
    if (this.liveCount > this.maxQueued) this.pruneOldest();
  }

  /** True if an update about `key` is still queued. */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /**
   * Takes messages whose framed size fits in `space` bytes, counting one
   * transmission for each, until `out` holds `maxCount` messages; messages
   * sent `limit` times are dropped. Returns the bytes used.
   */
  take(space: number, limit: number, out: Uint8Array[], maxCount: number): number {
    let used = 0;
    // Items sent now move up one bucket after the scan, so one packet never carries a message twice.
    const moved: Item[] = [];
    for (let t = 0; t < this.buckets.length && space - used > MESSAGE_FRAME_OVERHEAD && out.length < maxCount; t++) {
      const bucket = this.buckets[t];
      if (t >= limit) {
        for (const it of bucket) this.drop(it);
        bucket.length = 0;
        continue;
      }
      const skipped: Item[] = [];
      while (bucket.length > 0 && skipped.length < MAX_SKIPS && space - used > MESSAGE_FRAME_OVERHEAD && out.length < maxCount) {
        const it = bucket.pop()!;
        if (!it.live) continue;
        const cost = it.msg.length + MESSAGE_FRAME_OVERHEAD;
        if (used + cost > space) {
          skipped.push(it);
          continue;
        }
        used += cost;
        out.push(it.msg);
        it.transmits++;
        if (it.transmits >= limit) this.drop(it);
        else moved.push(it);
      }
      for (let i = skipped.length - 1; i >= 0; i--) bucket.push(skipped[i]);
    }
    // Oldest first within a bucket: push in reverse order of taking (taken newest first).
    for (let i = moved.length - 1; i >= 0; i--) {
      const it = moved[i];
      while (this.buckets.length <= it.transmits) this.buckets.push([]);
      this.buckets[it.transmits].push(it);
    }
    while (this.buckets.length > 1 && this.buckets[this.buckets.length - 1].length === 0) this.buckets.pop();
    return used;
  }

  clear(): void {
    this.buckets = [[]];
    this.byKey.clear();
    this.liveCount = 0;
  }

  private drop(it: Item): void {
    if (!it.live) return;
    it.live = false;
    this.liveCount--;
    if (this.byKey.get(it.key) === it) this.byKey.delete(it.key);
  }

  /** Drops the most-transmitted, oldest item: it has had the most chances to spread. */
  private pruneOldest(): void {
    for (let t = this.buckets.length - 1; t >= 0; t--) {
      const bucket = this.buckets[t];
      while (bucket.length > 0) {
        const it = bucket.shift()!;
        if (it.live) {
          this.drop(it);
          return;
        }
      }
    }
  }
}

// The queue of membership updates waiting to be piggybacked on outgoing
// packets. Each update is sent at most `limit` times (retransmitMult ×
// ceil(log10(N + 1)), passed in by the caller since N changes), fewest
// transmissions first and newest first among equals, so fresh news spreads
// before old news is repeated. A newer update about a member replaces any
// queued older one about the same member.
//
// Keys are small non-negative integers (the member's registry index). The
// layout is flat because the simulator holds one queue per member and, during
// a 10,000-member join storm, every queue holds an update about nearly every
// member: 10⁸ items. As one object plus a Map entry each they took ≈ 70 bytes
// an item; here an item is a slot in typed arrays (its message reference, key
// and transmit count) plus its place in a bucket, ≈ 22 bytes, and the arrays
// are dropped when the queue empties.

import { MESSAGE_FRAME_OVERHEAD } from './messages.js';

/** How many items that do not fit one call may be passed over before giving up. */
const MAX_SKIPS = 16;
/** Keys below this are looked up in a dense array; larger ones (rare) in a Map. */
const DENSE_KEYS = 1 << 22;

/** A deque of slot numbers in an Int32Array: push and pop at the tail, shift at the head. */
class SlotDeque {
  private data = new Int32Array(8);
  private head = 0;
  private tail = 0;

  get length(): number {
    return this.tail - this.head;
  }

  push(v: number): void {
    if (this.tail === this.data.length) {
      const n = this.tail - this.head;
      if (n * 2 > this.data.length) {
        const next = new Int32Array(this.data.length * 2);
        next.set(this.data.subarray(this.head, this.tail));
        this.data = next;
      } else this.data.copyWithin(0, this.head, this.tail);
      this.head = 0;
      this.tail = n;
    }
    this.data[this.tail++] = v;
  }

  pop(): number {
    const v = this.data[--this.tail]!;
    if (this.tail === this.head) this.head = this.tail = 0;
    return v;
  }

  shift(): number {
    const v = this.data[this.head++]!;
    if (this.tail === this.head) this.head = this.tail = 0;
    return v;
  }
}

export class BroadcastQueue {
  /** buckets[t] holds the slots of items sent t times, oldest first (superseded ones too, until popped). */
  private buckets: SlotDeque[] = [new SlotDeque()];
  // Per slot. A slot is live while its key maps to it; a superseded or dropped
  // slot stays in its bucket until popped, and is reused only after that.
  private msgs: (Uint8Array | undefined)[] = [];
  private keys = new Int32Array(0);
  private transmits = new Uint16Array(0);
  private freeSlots: number[] = [];
  /** key → slot + 1 (0: none queued). */
  private slotOfKey = new Int32Array(0);
  private readonly slotOfLargeKey = new Map<number, number>();
  private liveCount = 0;

  constructor(private readonly maxQueued: number) {}

  get size(): number {
    return this.liveCount;
  }

  /** Queues an encoded message about member `key`, replacing an older one about the same member. */
  push(key: number, msg: Uint8Array): void {
    if (!(Number.isInteger(key) && key >= 0 && key <= 0x7fffffff)) throw new RangeError('broadcast key must be a non-negative 31-bit integer');
    if (this.lookup(key) >= 0) this.liveCount--;
    const slot = this.allocate();
    this.msgs[slot] = msg;
    this.keys[slot] = key;
    this.transmits[slot] = 0;
    this.setLookup(key, slot);
    this.buckets[0]!.push(slot);
    this.liveCount++;
    if (this.liveCount > this.maxQueued) this.pruneOldest();
  }

  /** True if an update about `key` is still queued. */
  has(key: number): boolean {
    return this.lookup(key) >= 0;
  }

  /** Forgets the queued update about `key`, if any (the member was reaped: its key may be reused). */
  remove(key: number): void {
    const slot = this.lookup(key);
    if (slot >= 0) this.drop(slot);
  }

  /**
   * Takes messages whose framed size fits in `space` bytes, counting one
   * transmission for each, until `out` holds `maxCount` messages; messages
   * sent `limit` times are dropped. Returns the bytes used.
   */
  take(space: number, limit: number, out: Uint8Array[], maxCount: number): number {
    let used = 0;
    // Items sent now move up one bucket after the scan, so one packet never carries a message twice.
    const moved: number[] = [];
    for (let t = 0; t < this.buckets.length && space - used > MESSAGE_FRAME_OVERHEAD && out.length < maxCount; t++) {
      const bucket = this.buckets[t]!;
      if (t >= limit) {
        while (bucket.length > 0) this.discard(bucket.pop());
        continue;
      }
      const skipped: number[] = [];
      while (bucket.length > 0 && skipped.length < MAX_SKIPS && space - used > MESSAGE_FRAME_OVERHEAD && out.length < maxCount) {
        const slot = bucket.pop();
        if (!this.isLive(slot)) {
          this.release(slot);
          continue;
        }
        const msg = this.msgs[slot]!;
        const cost = msg.length + MESSAGE_FRAME_OVERHEAD;
        if (used + cost > space) {
          skipped.push(slot);
          continue;
        }
        used += cost;
        out.push(msg);
        const sent = ++this.transmits[slot]!;
        if (sent >= limit) this.discard(slot);
        else moved.push(slot);
      }
      for (let i = skipped.length - 1; i >= 0; i--) bucket.push(skipped[i]!);
    }
    // Oldest first within a bucket: push in reverse order of taking (taken newest first).
    for (let i = moved.length - 1; i >= 0; i--) {
      const slot = moved[i]!;
      const t = this.transmits[slot]!;
      while (this.buckets.length <= t) this.buckets.push(new SlotDeque());
      this.buckets[t]!.push(slot);
    }
    while (this.buckets.length > 1 && this.buckets[this.buckets.length - 1]!.length === 0) this.buckets.pop();
    if (this.buckets.length === 1 && this.buckets[0]!.length === 0) this.clear();
    return used;
  }

  /** Empties the queue and gives its arrays back. */
  clear(): void {
    this.buckets = [new SlotDeque()];
    this.msgs = [];
    this.keys = new Int32Array(0);
    this.transmits = new Uint16Array(0);
    this.freeSlots = [];
    this.slotOfKey = new Int32Array(0);
    this.slotOfLargeKey.clear();
    this.liveCount = 0;
  }

  // ---------------------------------------------------------------- slots

  private lookup(key: number): number {
    if (key < DENSE_KEYS) return key < this.slotOfKey.length ? this.slotOfKey[key]! - 1 : -1;
    return (this.slotOfLargeKey.get(key) ?? 0) - 1;
  }

  private setLookup(key: number, slot: number): void {
    if (key >= DENSE_KEYS) {
      if (slot < 0) this.slotOfLargeKey.delete(key);
      else this.slotOfLargeKey.set(key, slot + 1);
      return;
    }
    if (key >= this.slotOfKey.length) {
      if (slot < 0) return;
      const grown = new Int32Array(Math.max(key + 1, this.slotOfKey.length * 2, 16));
      grown.set(this.slotOfKey);
      this.slotOfKey = grown;
    }
    this.slotOfKey[key] = slot + 1;
  }

  private isLive(slot: number): boolean {
    return this.lookup(this.keys[slot]!) === slot;
  }

  private allocate(): number {
    const free = this.freeSlots.pop();
    if (free !== undefined) return free;
    const slot = this.msgs.length;
    this.msgs.push(undefined);
    if (slot >= this.keys.length) {
      const cap = Math.max(16, this.keys.length * 2);
      const keys = new Int32Array(cap);
      keys.set(this.keys);
      this.keys = keys;
      const transmits = new Uint16Array(cap);
      transmits.set(this.transmits);
      this.transmits = transmits;
    }
    return slot;
  }

  /** The item at `slot` stops being live (it stays allocated while a bucket still lists it). */
  private drop(slot: number): void {
    if (!this.isLive(slot)) return;
    this.liveCount--;
    this.setLookup(this.keys[slot]!, -1);
  }

  /** Drops the item at `slot`, which no bucket lists any more, and frees the slot. */
  private discard(slot: number): void {
    this.drop(slot);
    this.release(slot);
  }

  /** Frees a slot that is no longer live and no longer in a bucket. */
  private release(slot: number): void {
    this.msgs[slot] = undefined;
    this.freeSlots.push(slot);
  }

  /** Drops the most-transmitted, oldest item: it has had the most chances to spread. */
  private pruneOldest(): void {
    for (let t = this.buckets.length - 1; t >= 0; t--) {
      const bucket = this.buckets[t]!;
      while (bucket.length > 0) {
        const slot = bucket.shift();
        const live = this.isLive(slot);
        this.discard(slot);
        if (live) return;
      }
    }
  }
}

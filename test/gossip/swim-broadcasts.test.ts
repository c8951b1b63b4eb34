// The flat membership broadcast queue against a model: the straightforward
// queue it replaced (one object per item, a Map by key), driven by the same
// random pushes, removals and takes. Every take must return the same messages
// in the same order, and size and has() must agree throughout.

import test from 'node:test';
import assert from 'node:assert/strict';
import { BroadcastQueue } from '../../src/gossip/swim-broadcasts.js';
import { MESSAGE_FRAME_OVERHEAD } from '../../src/gossip/messages.js';
import { Sfc32 } from '../../src/sim/prng.js';

interface Item {
  key: number;
  msg: Uint8Array;
  transmits: number;
  live: boolean;
}

/** The reference: the queue as it was written before it was made flat. */
class ModelQueue {
  buckets: Item[][] = [[]];
  byKey = new Map<number, Item>();
  size = 0;
  constructor(private readonly maxQueued: number) {}
  push(key: number, msg: Uint8Array): void {
    const old = this.byKey.get(key);
    if (old) {
      old.live = false;
      this.size--;
    }
    const it: Item = { key, msg, transmits: 0, live: true };
    this.byKey.set(key, it);
    this.buckets[0]!.push(it);
    this.size++;
    if (this.size > this.maxQueued) this.pruneOldest();
  }
  has(key: number): boolean {
    return this.byKey.has(key);
  }
  remove(key: number): void {
    const it = this.byKey.get(key);
    if (it) this.drop(it);
  }
  take(space: number, limit: number, out: Uint8Array[], maxCount: number): number {
    let used = 0;
    const moved: Item[] = [];
    for (let t = 0; t < this.buckets.length && space - used > MESSAGE_FRAME_OVERHEAD && out.length < maxCount; t++) {
      const bucket = this.buckets[t]!;
      if (t >= limit) {
        for (const it of bucket) this.drop(it);
        bucket.length = 0;
        continue;
      }
      const skipped: Item[] = [];
      while (bucket.length > 0 && skipped.length < 16 && space - used > MESSAGE_FRAME_OVERHEAD && out.length < maxCount) {
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
      for (let i = skipped.length - 1; i >= 0; i--) bucket.push(skipped[i]!);
    }
    for (let i = moved.length - 1; i >= 0; i--) {
      const it = moved[i]!;
      while (this.buckets.length <= it.transmits) this.buckets.push([]);
      this.buckets[it.transmits]!.push(it);
    }
    while (this.buckets.length > 1 && this.buckets[this.buckets.length - 1]!.length === 0) this.buckets.pop();
    return used;
  }
  private drop(it: Item): void {
    if (!it.live) return;
    it.live = false;
    this.size--;
    if (this.byKey.get(it.key) === it) this.byKey.delete(it.key);
  }
  private pruneOldest(): void {
    for (let t = this.buckets.length - 1; t >= 0; t--) {
      const bucket = this.buckets[t]!;
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

test('flat broadcast queue behaves exactly as the object queue it replaced (random operations, 40 seeds)', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const rng = Sfc32.fork(seed, 'broadcast-queue');
    const maxQueued = 1 + rng.int(seed % 4 === 0 ? 20 : 400);
    const keys = 1 + rng.int(seed % 3 === 0 ? 8 : 300);
    const q = new BroadcastQueue(maxQueued);
    const m = new ModelQueue(maxQueued);
    let serial = 0;
    for (let step = 0; step < 3000; step++) {
      const op = rng.float();
      // Mostly small keys (registry indexes), now and then a large one (foreign keys).
      const key = rng.float() < 0.02 ? 0x40000000 + rng.int(5) : rng.int(keys);
      if (op < 0.5) {
        // Tag each message so identity is checked, with varied lengths so some do not fit.
        const msg = new Uint8Array(5 + rng.int(60));
        new DataView(msg.buffer).setUint32(0, ++serial);
        q.push(key, msg);
        m.push(key, msg);
      } else if (op < 0.55) {
        q.remove(key);
        m.remove(key);
      } else {
        const space = 20 + rng.int(600);
        const limit = 1 + rng.int(6);
        const maxCount = 1 + rng.int(12);
        const a: Uint8Array[] = [];
        const b: Uint8Array[] = [];
        const ua = q.take(space, limit, a, maxCount);
        const ub = m.take(space, limit, b, maxCount);
        assert.equal(ua, ub, `seed ${seed} step ${step}: bytes used`);
        assert.equal(a.length, b.length, `seed ${seed} step ${step}: message count`);
        for (let i = 0; i < a.length; i++) assert.equal(a[i], b[i], `seed ${seed} step ${step}: message ${i}`);
      }
      assert.equal(q.size, m.size, `seed ${seed} step ${step}: size`);
      assert.equal(q.has(key), m.has(key), `seed ${seed} step ${step}: has`);
    }
  }
});

test('flat broadcast queue rejects keys it cannot hold', () => {
  const q = new BroadcastQueue(10);
  assert.throws(() => q.push(-1, new Uint8Array(1)), RangeError);
  assert.throws(() => q.push(1.5, new Uint8Array(1)), RangeError);
  assert.throws(() => q.push(2 ** 31, new Uint8Array(1)), RangeError);
});

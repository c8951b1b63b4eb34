// The queue of pending broadcasts piggybacked on membership packets, with the
// semantics of memberlist's TransmitLimitedQueue: each message is sent up to
// retransmitMult × ceil(log10(N + 1)) times, least-sent and then newest first;
// a message with a key supersedes (drops) a queued message with the same key;
// `take` packs as many messages as fit under a byte limit.

export interface BroadcastQueueOptions {
  /** Multiplier of the log N retransmit limit (memberlist's RetransmitMult, default 4). */
  retransmitMult?: number;
  /** Members in the cluster, counting this one (scales the retransmit limit). */
  memberCount: () => number;
  /** Keep at most this many messages; the most-sent, oldest are dropped first. */
  maxQueued?: number;
}

export const DEFAULT_RETRANSMIT_MULT = 4;
export const DEFAULT_MAX_QUEUED = 4096;

interface QueuedBroadcast {
  readonly seq: number;
  readonly message: Uint8Array;
  readonly key: string | undefined;
  transmits: number;
}

export class BroadcastQueue {
  private readonly retransmitMult: number;
  private readonly memberCount: () => number;
  private readonly maxQueued: number;
  /** Buckets by transmit count; each sorted by seq ascending (newest at the end). */
  private readonly buckets = new Map<number, QueuedBroadcast[]>();
  private readonly byKey = new Map<string, QueuedBroadcast>();
  private nextSeq = 0;
  private count = 0;

  constructor(options: BroadcastQueueOptions) {
    this.retransmitMult = options.retransmitMult ?? DEFAULT_RETRANSMIT_MULT;
    this.memberCount = options.memberCount;
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
  }

  /** Messages waiting to be sent at least once more. */
  get size(): number {
    return this.count;
  }

  /** How many times each message is sent before it leaves the queue. */
  retransmitLimit(): number {
    const n = Math.max(1, this.memberCount());
    return this.retransmitMult * Math.max(1, Math.ceil(Math.log10(n + 1)));
  }

  /** Queue `message`; with a `key`, a queued message with the same key is dropped (superseded). */
  enqueue(message: Uint8Array, key?: string): void {
    if (key !== undefined) {
      const old = this.byKey.get(key);
      if (old) this.remove(old);
    }
    const item: QueuedBroadcast = { seq: this.nextSeq++, message, key, transmits: 0 };
    this.bucket(0).push(item); // highest seq: stays sorted
    if (key !== undefined) this.byKey.set(key, item);
    this.count++;
    if (this.count > this.maxQueued) this.pruneTo(this.maxQueued);
  }

  /** Drop the queued message with this key, if any. */
  invalidate(key: string): boolean {
    const item = this.byKey.get(key);
    if (!item) return false;
    this.remove(item);
    return true;
  }

  /**
   * Messages to piggyback: each costs `overhead` + its length, all together at
   * most `limit` bytes. Least-sent first, newest first among equals; messages
   * that do not fit are skipped in favour of smaller ones.
   */
  take(overhead: number, limit: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (this.count === 0) return out;
    const taken: QueuedBroadcast[] = [];
    let used = 0;
    const levels = [...this.buckets.keys()].sort((a, b) => a - b);
    outer: for (const level of levels) {
      const bucket = this.buckets.get(level)!;
      for (let i = bucket.length - 1; i >= 0; i--) {
        const item = bucket[i]!;
        const cost = overhead + item.message.length;
        if (used + cost > limit) continue;
        used += cost;
        out.push(item.message);
        taken.push(item);
        bucket.splice(i, 1);
        if (limit - used <= overhead) break outer; // not even an empty message fits now
      }
    }
    // Move taken messages up one level only now, so none is taken twice in one call.
    const retransmitLimit = this.retransmitLimit();
    for (const item of taken) {
      this.dropEmptyBucket(item.transmits);
      item.transmits++;
      if (item.transmits >= retransmitLimit) {
        this.count--;
        if (item.key !== undefined && this.byKey.get(item.key) === item) this.byKey.delete(item.key);
      } else {
        insertBySeq(this.bucket(item.transmits), item);
      }
    }
    return out;
  }

  /** Keep only the `max` least-sent, newest messages. */
  pruneTo(max: number): void {
    while (this.count > max) {
      const top = Math.max(...this.buckets.keys());
      const bucket = this.buckets.get(top)!;
      this.remove(bucket[0]!); // oldest among the most-sent
    }
  }

  clear(): void {
    this.buckets.clear();
    this.byKey.clear();
    this.count = 0;
  }

  private bucket(level: number): QueuedBroadcast[] {
    let b = this.buckets.get(level);
    if (!b) {
      b = [];
      this.buckets.set(level, b);
    }
    return b;
  }

  private dropEmptyBucket(level: number): void {
    if (this.buckets.get(level)?.length === 0) this.buckets.delete(level);
  }

  private remove(item: QueuedBroadcast): void {
    const bucket = this.buckets.get(item.transmits);
    if (!bucket) return;
    const i = indexBySeq(bucket, item.seq);
    if (i < 0) return;
    bucket.splice(i, 1);
    this.dropEmptyBucket(item.transmits);
    this.count--;
    if (item.key !== undefined && this.byKey.get(item.key) === item) this.byKey.delete(item.key);
  }
}

function indexBySeq(bucket: QueuedBroadcast[], seq: number): number {
  let lo = 0;
  let hi = bucket.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const s = bucket[mid]!.seq;
    if (s === seq) return mid;
    if (s < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function insertBySeq(bucket: QueuedBroadcast[], item: QueuedBroadcast): void {
  let lo = 0;
  let hi = bucket.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (bucket[mid]!.seq < item.seq) lo = mid + 1;
    else hi = mid;
  }
  bucket.splice(lo, 0, item);
}

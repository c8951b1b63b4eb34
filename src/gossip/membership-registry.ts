// Member ids as small integers, shared by every Membership of a process, and
// the alive member records they can share.
//
// One agent runs one Membership and this is just its index. The simulator runs
// thousands in one process, and there each view of each member used to be its
// own record in its own Maps: N² records, 10,000 members ≈ 60 GB. With one
// registry for all of them, a view is three arrays of small integers (its
// records by index, its probe ring, its id-ordered ring) and the records of
// alive members are shared between every view that agrees on them — the same
// id, incarnation, name, address and metadata, which is nearly every view in
// a converged cluster. A view copies a record before changing it (suspect,
// dead), so shared records never change. ≈ 12 bytes per (view, member).

import { encodeMessage, encodePushPullEntry, MessageType } from './messages.js';
import type { Address, MemberState } from './types.js';
import type { Suspicion } from './swim-suspicion.js';

export interface MemberRecord {
  /** Index in the registry (stable while any view holds the id). */
  readonly index: number;
  readonly id: string;
  /** The id's two 32-bit words: gossip about this member is recognised without building id strings. */
  readonly high: number;
  readonly low: number;
  name: string;
  address: Address;
  incarnation: number;
  state: MemberState;
  meta: Uint8Array;
  /** Clock time of the last state change (read for dead and left members only). */
  changedAt: number;
  suspicion: Suspicion | undefined;
  /** Shared between views: never changed (views copy it first), but for this cache. */
  readonly shared: boolean;
  /** A shared record's encoded alive message and push-pull entry, built once for all the views that send them. */
  encodedAlive?: Uint8Array;
  encodedEntry?: Uint8Array;
}

export interface AliveFacts {
  id: string;
  incarnation: number;
  name: string;
  address: Address;
  meta: Uint8Array;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function wordHash(high: number, low: number): number {
  return Math.imul(high ^ Math.imul(low, 0x9e3779b1), 0x85ebca6b) ^ (low >>> 15);
}

/** True if `e` occurs in `b` at `o`. */
function sameAt(b: Uint8Array, o: number, e: Uint8Array): boolean {
  if (o + e.length > b.length) return false;
  for (let i = 0; i < e.length; i++) if (b[o + i] !== e[i]) return false;
  return true;
}

export class MemberRegistry {
  private readonly byId = new Map<string, number>();
  /**
   * (high, low) → index + 1 (0: empty): an open-addressing table with linear
   * probing. Every datagram and push-pull entry is looked up here by its
   * subject's words; a Map keyed by part of the high word was a fifth of a
   * 10,000-member join's time.
   */
  private words = new Int32Array(64);
  private wordsHeld = 0;
  private readonly ids: (string | undefined)[] = [];
  private readonly highs: number[] = [];
  private readonly lows: number[] = [];
  /** Views holding each index; an index is reused once none does. */
  private readonly refs: number[] = [];
  private readonly free: number[] = [];
  /** The newest shared alive record per index. */
  private readonly canonical: (MemberRecord | undefined)[] = [];
  /** Every held index in id order (by the two words): the 'aligned' probe schedule's ring. */
  private readonly sorted: number[] = [];

  /** Indexes handed out so far (views size their arrays by it). */
  get capacity(): number {
    return this.ids.length;
  }

  /** The index of `id`, or -1. */
  lookup(id: string): number {
    return this.byId.get(id) ?? -1;
  }

  /** The index of the id with these words, or -1 (also when another id shares the key: decode the id then). */
  lookupWords(high: number, low: number): number {
    const t = this.words;
    const mask = t.length - 1;
    for (let p = wordHash(high, low) & mask; ; p = (p + 1) & mask) {
      const v = t[p]!;
      if (v === 0) return -1;
      if (this.highs[v - 1] === high && this.lows[v - 1] === low) return v - 1;
    }
  }

  /** A view starts holding `id`: its index (allocated on first use). */
  acquire(id: string, high: number, low: number): number {
    let i = this.byId.get(id);
    if (i === undefined) {
      i = this.free.pop();
      if (i === undefined) {
        i = this.ids.length;
        this.ids.push(id);
        this.highs.push(high);
        this.lows.push(low);
        this.refs.push(0);
        this.canonical.push(undefined);
      } else {
        this.ids[i] = id;
        this.highs[i] = high;
        this.lows[i] = low;
      }
      this.byId.set(id, i);
      this.insertWords(i);
      this.sorted.splice(this.sortedPosition(high, low), 0, i);
    }
    this.refs[i]!++;
    return i;
  }

  /** A view starts holding an id already registered at `index`. */
  retain(index: number): void {
    this.refs[index]!++;
  }

  /**
   * The shared alive record whose push-pull entry is exactly the bytes at
   * `o` in `b`, or undefined. Every view of a simulated cluster receives the
   * same entries: compared with the encoding cached on the record, they are
   * decoded (strings built) once instead of once per view.
   */
  sharedByEntry(index: number, b: Uint8Array, o: number): MemberRecord | undefined {
    const c = this.canonical[index];
    if (!c) return undefined;
    const e = (c.encodedEntry ??= encodePushPullEntry(c));
    return sameAt(b, o, e) ? c : undefined;
  }

  /** As sharedByEntry, for an alive message at b[o, end) of a gossip packet. */
  sharedByAlive(index: number, b: Uint8Array, o: number, end: number): MemberRecord | undefined {
    const c = this.canonical[index];
    if (!c) return undefined;
    const e = (c.encodedAlive ??= encodeMessage({ type: MessageType.Alive, id: c.id, incarnation: c.incarnation, name: c.name, address: c.address, meta: c.meta }));
    return end - o === e.length && sameAt(b, o, e) ? c : undefined;
  }

  /** A view stops holding the id at `index` (it was reaped there). */
  release(index: number): void {
    if (--this.refs[index]! > 0) return;
    const id = this.ids[index]!;
    const at = this.sortedPosition(this.highs[index]!, this.lows[index]!);
    if (this.sorted[at] === index) this.sorted.splice(at, 1);
    this.byId.delete(id);
    this.removeWords(index);
    this.ids[index] = undefined;
    this.canonical[index] = undefined;
    this.free.push(index);
  }

  private insertWords(index: number): void {
    if ((this.wordsHeld + 1) * 2 > this.words.length) {
      const old = this.words;
      this.words = new Int32Array(old.length * 2);
      this.wordsHeld = 0;
      for (const v of old) if (v !== 0) this.insertWords(v - 1);
    }
    const t = this.words;
    const mask = t.length - 1;
    let p = wordHash(this.highs[index]!, this.lows[index]!) & mask;
    while (t[p] !== 0) p = (p + 1) & mask;
    t[p] = index + 1;
    this.wordsHeld++;
  }

  /** Removes `index` and shifts back the entries after it that probed past its position. */
  private removeWords(index: number): void {
    const t = this.words;
    const mask = t.length - 1;
    let p = wordHash(this.highs[index]!, this.lows[index]!) & mask;
    while (t[p] !== index + 1) {
      if (t[p] === 0) return;
      p = (p + 1) & mask;
    }
    t[p] = 0;
    this.wordsHeld--;
    for (let q = (p + 1) & mask; t[q] !== 0; q = (q + 1) & mask) {
      const j = t[q]! - 1;
      const home = wordHash(this.highs[j]!, this.lows[j]!) & mask;
      // The entry at q may move to the hole at p unless its home lies cyclically in (p, q].
      const stays = p <= q ? home > p && home <= q : home > p || home <= q;
      if (!stays) {
        t[p] = t[q]!;
        t[q] = 0;
        p = q;
      }
    }
  }

  /** Held indexes in id order (read-only). */
  get inIdOrder(): readonly number[] {
    return this.sorted;
  }

  /** Where (high, low) is or would be in inIdOrder. */
  sortedPosition(high: number, low: number): number {
    const list = this.sorted;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const i = list[mid]!;
      const c = (this.highs[i]! >>> 0) - (high >>> 0) || (this.lows[i]! >>> 0) - (low >>> 0);
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The shared alive record for these facts (an existing one when it agrees, else a new one). */
  aliveRecord(index: number, a: AliveFacts): MemberRecord {
    const c = this.canonical[index];
    if (c && c.incarnation === a.incarnation && c.name === a.name && c.address === a.address && sameBytes(c.meta, a.meta)) return c;
    const r: MemberRecord = {
      index,
      id: this.ids[index]!,
      high: this.highs[index]!,
      low: this.lows[index]!,
      name: c && c.name === a.name ? c.name : a.name,
      address: c && c.address === a.address ? c.address : a.address,
      incarnation: a.incarnation,
      state: 'alive',
      meta: c && sameBytes(c.meta, a.meta) ? c.meta : a.meta,
      changedAt: 0,
      suspicion: undefined,
      shared: true,
    };
    if (!c || a.incarnation >= c.incarnation) this.canonical[index] = r;
    return r;
  }

  /** A view's own, changeable copy of a record. */
  static privateCopy(r: MemberRecord): MemberRecord {
    return { ...r, suspicion: undefined, shared: false, encodedAlive: undefined, encodedEntry: undefined };
  }
}

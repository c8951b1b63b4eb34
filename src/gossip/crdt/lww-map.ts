// A last-writer-wins map of string keys to byte values: each key keeps the
// entry with the greatest hybrid-logical-clock timestamp (member id breaks
// ties). Deletes are tombstones, which expire after `tombstoneTtlMs` so the map
// does not grow forever (a replica cut off for longer than that can bring a
// deleted key back: the TTL must exceed the longest partition you expect).
//
// The same class is the replica and its deltas: merge() returns an LwwMap of
// the entries that won, which is what gets gossiped on.
//
// Encoding (canonical: keys sorted):
//   u8 version 1 | count varuint | count × (key str | wall varuint | counter varuint |
//   node str | flags u8 (bit 0 = tombstone) | [value bytes, when not a tombstone])

import { ByteReader, ByteWriter } from '../codec.js';
import type { GossipData } from '../gossiper.js';
import type { Clock } from '../types.js';
import { compareTimestamps, HybridLogicalClock, type HlcTimestamp } from './hlc.js';

export interface LwwEntry {
  /** null marks a tombstone (the key was deleted). */
  readonly value: Uint8Array | null;
  readonly ts: HlcTimestamp;
}

/** A key's visible value changed (null: absent or deleted). */
export type LwwChangeListener = (key: string, value: Uint8Array | null, previous: Uint8Array | null) => void;

export interface LwwMapOptions {
  /** Writes are stamped by this member's hybrid logical clock. */
  clock: HybridLogicalClock;
  /** Physical time for tombstone expiry. */
  time: Pick<Clock, 'now'>;
  /** Tombstones older than this are dropped (default 24 h). */
  tombstoneTtlMs?: number;
}

export const DEFAULT_TOMBSTONE_TTL_MS = 24 * 60 * 60 * 1000;
export const MAX_KEY_BYTES = 1024;
export const MAX_VALUE_BYTES = 64 * 1024;
const VERSION = 1;
const FLAG_TOMBSTONE = 1;

/** Order of two entries for one key: timestamp, then tombstone over value, then value bytes (total, so merge commutes). */
export function compareEntries(a: LwwEntry, b: LwwEntry): number {
  const t = compareTimestamps(a.ts, b.ts);
  if (t !== 0) return t;
  if (a.value === null || b.value === null) return a.value === b.value ? 0 : a.value === null ? 1 : -1;
  return compareBytes(a.value, b.value);
}

export class LwwMap implements GossipData {
  private readonly entries = new Map<string, LwwEntry>();
  private readonly listeners: LwwChangeListener[] = [];
  private lastGc = -Infinity;

  /** A replica takes options; a delta (or a decoded message) has none. */
  constructor(private readonly options?: LwwMapOptions) {}

  get size(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.value !== null) n++;
    return n;
  }

  /** Entries including tombstones. */
  get entryCount(): number {
    return this.entries.size;
  }

  get(key: string): Uint8Array | undefined {
    return this.entries.get(key)?.value ?? undefined;
  }

  entry(key: string): LwwEntry | undefined {
    return this.entries.get(key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Live keys and values. */
  *[Symbol.iterator](): IterableIterator<[string, Uint8Array]> {
    for (const [k, e] of this.entries) if (e.value !== null) yield [k, e.value];
  }

  /** Every entry, tombstones included. */
  allEntries(): IterableIterator<[string, LwwEntry]> {
    return this.entries.entries();
  }

  onChange(listener: LwwChangeListener): void {
    this.listeners.push(listener);
  }

  /** Write a value; returns the delta to gossip. */
  set(key: string, value: Uint8Array): LwwMap {
    return this.write(key, value);
  }

  /** Delete (leave a tombstone); returns the delta to gossip. */
  delete(key: string): LwwMap {
    return this.write(key, null);
  }

  /** Put an entry as is if it beats the current one (no clock needed); true if it won. */
  put(key: string, entry: LwwEntry): boolean {
    const current = this.entries.get(key);
    if (current && compareEntries(entry, current) <= 0) return false;
    this.entries.set(key, entry);
    this.options?.clock.observe(entry.ts);
    const previous = current?.value ?? null;
    if (previous !== null || entry.value !== null) for (const l of this.listeners) l(key, entry.value, previous);
    return true;
  }

  merge(other: GossipData): LwwMap | null {
    if (!(other instanceof LwwMap)) return null;
    const delta = new LwwMap();
    for (const [key, entry] of other.entries) if (this.put(key, entry)) delta.entries.set(key, entry);
    this.maybeGc();
    return delta.entries.size > 0 ? delta : null;
  }

  /**
   * Drop entries locally without a tombstone (e.g. the keys of a member that
   * died: every member learns of the death itself, nothing needs gossiping).
   */
  purge(predicate: (key: string, entry: LwwEntry) => boolean): number {
    let n = 0;
    for (const [key, entry] of [...this.entries]) {
      if (!predicate(key, entry)) continue;
      this.entries.delete(key);
      n++;
      if (entry.value !== null) for (const l of this.listeners) l(key, null, entry.value);
    }
    return n;
  }

  /** Drop tombstones older than the TTL; returns how many. */
  gc(): number {
    if (!this.options) return 0;
    const now = this.options.time.now();
    this.lastGc = now;
    const horizon = now - (this.options.tombstoneTtlMs ?? DEFAULT_TOMBSTONE_TTL_MS);
    let n = 0;
    for (const [key, e] of this.entries) {
      if (e.value === null && e.ts.wall < horizon) {
        this.entries.delete(key);
        n++;
      }
    }
    return n;
  }

  broadcastKey(): string | undefined {
    return this.entries.size === 1 ? this.entries.keys().next().value : undefined;
  }

  split(): LwwMap[] {
    return [...this.entries].map(([k, e]) => {
      const part = new LwwMap();
      part.entries.set(k, e);
      return part;
    });
  }

  encode(): Uint8Array {
    const w = new ByteWriter(64 + this.entries.size * 48);
    const keys = [...this.entries.keys()].sort();
    w.u8(VERSION).varuint(keys.length);
    for (const key of keys) {
      const e = this.entries.get(key)!;
      w.string(key).varuint(e.ts.wall).varuint(e.ts.counter).string(e.ts.node);
      if (e.value === null) w.u8(FLAG_TOMBSTONE);
      else w.u8(0).bytes(e.value);
    }
    return w.finish();
  }

  /** Parse an encoded map; null on any malformed byte (never throws). */
  static decode(bytes: Uint8Array): LwwMap | null {
    const r = new ByteReader(bytes);
    if (r.u8() !== VERSION) return null;
    const n = r.count(5);
    const map = new LwwMap();
    for (let i = 0; i < n && r.ok; i++) {
      const key = r.string(MAX_KEY_BYTES);
      const wall = r.varuint();
      const counter = r.varuint();
      const node = r.string();
      const flags = r.u8();
      if (flags & ~FLAG_TOMBSTONE) r.fail();
      const value = flags & FLAG_TOMBSTONE ? null : r.bytes(MAX_VALUE_BYTES);
      if (!r.ok) break;
      const entry: LwwEntry = { value, ts: { wall, counter, node } };
      const current = map.entries.get(key);
      if (!current || compareEntries(entry, current) > 0) map.entries.set(key, entry);
    }
    return r.done ? map : null;
  }

  private write(key: string, value: Uint8Array | null): LwwMap {
    if (!this.options) throw new Error('LwwMap: a delta cannot be written to, only merged');
    const entry: LwwEntry = { value: value === null ? null : value.slice(), ts: this.options.clock.now() };
    this.put(key, entry);
    this.maybeGc();
    const delta = new LwwMap();
    delta.entries.set(key, entry);
    return delta;
  }

  /** GC runs at most every quarter TTL, on writes and merges (no timers: the simulator owns time). */
  private maybeGc(): void {
    if (!this.options) return;
    const ttl = this.options.tombstoneTtlMs ?? DEFAULT_TOMBSTONE_TTL_MS;
    if (this.options.time.now() - this.lastGc >= ttl / 4) this.gc();
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

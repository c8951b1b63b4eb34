// The deduplicated view behind the snapshot: one entry per (kind, uid), the
// latest version wins, removed objects are dropped and remembered (tombstones,
// kept even after the uid is re-created) so a late or replayed event older than
// the removal cannot bring back anything the removal dropped. Applying an event twice, or
// events out of order, gives the same state: replaying a log over a snapshot
// is safe.
import { eventProblem, isTerminal, type SyncEvent } from './events.js';

export const SNAPSHOT_FORMAT = 'weft-sync-snapshot/1';

export interface SnapshotFile {
  format: typeof SNAPSHOT_FORMAT;
  writtenAt: string;
  /** Highest version applied (of any agent). */
  maxVersion: number;
  /** Events applied since this state began, including replays (diagnostic). */
  applied: number;
  count: number;
  /** Sorted by kind, then uid. */
  entries: SyncEvent[];
  /** uid -> version of its removal. */
  tombstones: Record<string, number>;
}

export class CatalogState {
  private readonly entries = new Map<string, SyncEvent>();
  /** uid -> the kinds it has entries under (a removal drops them all: an endpoint and its health). */
  private readonly kindsByUid = new Map<string, Set<string>>();
  private readonly tombstones = new Map<string, number>();
  private applied = 0;
  maxVersion = 0;

  constructor(private readonly maxTombstones = 100_000) {}

  get size(): number {
    return this.entries.size;
  }

  /** Applies one event; returns whether the state changed. */
  apply(e: SyncEvent): boolean {
    this.applied++;
    if (e.version > this.maxVersion) this.maxVersion = e.version;
    const removedAt = this.tombstones.get(e.uid);
    if (removedAt !== undefined && removedAt >= e.version) return false;
    const key = `${e.kind}\u0000${e.uid}`;
    const current = this.entries.get(key);
    if (current && current.version >= e.version) return false;
    if (isTerminal(e)) {
      for (const kind of this.kindsByUid.get(e.uid) ?? []) this.entries.delete(`${kind}\u0000${e.uid}`);
      this.kindsByUid.delete(e.uid);
      this.tombstones.delete(e.uid); // re-insert: Map order is the eviction order
      this.tombstones.set(e.uid, e.version);
      if (this.tombstones.size > this.maxTombstones) this.tombstones.delete(this.tombstones.keys().next().value!);
      return true;
    }
    this.entries.set(key, e);
    let kinds = this.kindsByUid.get(e.uid);
    if (!kinds) this.kindsByUid.set(e.uid, (kinds = new Set()));
    kinds.add(e.kind);
    return true;
  }

  get(kind: string, uid: string): SyncEvent | undefined {
    return this.entries.get(`${kind}\u0000${uid}`);
  }

  /** The entries, sorted by kind then uid. */
  list(): SyncEvent[] {
    return [...this.entries.values()].sort((a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  }

  toSnapshot(now: Date = new Date()): SnapshotFile {
    const entries = this.list();
    return {
      format: SNAPSHOT_FORMAT,
      writtenAt: now.toISOString(),
      maxVersion: this.maxVersion,
      applied: this.applied,
      count: entries.length,
      entries,
      tombstones: Object.fromEntries(this.tombstones),
    };
  }

  /** Rebuilds a state from a parsed snapshot; throws with the reason if it is not one. */
  static fromSnapshot(data: unknown, maxTombstones?: number): CatalogState {
    if (typeof data !== 'object' || data === null) throw new Error('not a JSON object');
    const s = data as Partial<SnapshotFile>;
    if (s.format !== SNAPSHOT_FORMAT) throw new Error(`format is ${JSON.stringify(s.format)}, expected ${SNAPSHOT_FORMAT}`);
    if (!Array.isArray(s.entries)) throw new Error('entries is not a list');
    if (s.count !== s.entries.length) throw new Error(`count ${String(s.count)} does not match ${s.entries.length} entries`);
    if (typeof s.tombstones !== 'object' || s.tombstones === null) throw new Error('tombstones is not a mapping');
    const state = new CatalogState(maxTombstones);
    for (const [uid, version] of Object.entries(s.tombstones)) {
      if (typeof version !== 'number') throw new Error(`tombstone ${uid} has no version`);
      state.tombstones.set(uid, version);
    }
    s.entries.forEach((e, i) => {
      const problem = eventProblem(e);
      if (problem) throw new Error(`entries[${i}]: ${problem}`);
      state.apply(e);
    });
    if (typeof s.maxVersion === 'number' && s.maxVersion > state.maxVersion) state.maxVersion = s.maxVersion;
    state.applied = typeof s.applied === 'number' ? s.applied : s.entries.length;
    return state;
  }
}

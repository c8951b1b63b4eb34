// Who sees whom, maintained incrementally from membership events so that
// "has the cluster converged?" is an O(1) question after every event
// (no O(N²) scan per tick). A member "sees" another when it holds it as alive
// or suspect. Only running processes count, as observers and as subjects.
// Each observer's row is a bitset over member indexes (10,000 members: 12.5 MB
// in all, where sets of ids took gigabytes).

export class ViewTracker {
  private readonly live = new Set<string>();
  private readonly indexOf = new Map<string, number>();
  private readonly idAt: string[] = [];
  /** observer index → bitset of the subject indexes it sees (undefined: not a live observer). */
  private readonly rows: (Uint32Array | undefined)[] = [];
  /** subject index → number of live observers that see it. */
  private seenBy: Int32Array = new Int32Array(1024);
  /** Σ over live subjects of seenBy: converged when it equals L × (L - 1). */
  private goodPairs = 0;
  /** Called when a watched subject stops being seen by any live observer. */
  onUnseen: ((id: string) => void) | undefined;

  /** (observer, subject) pairs of live members where the observer sees the subject. */
  get seenPairs(): number {
    return this.goodPairs;
  }

  get liveCount(): number {
    return this.live.size;
  }

  isLive(id: string): boolean {
    return this.live.has(id);
  }

  private index(id: string): number {
    let i = this.indexOf.get(id);
    if (i === undefined) {
      i = this.idAt.length;
      this.indexOf.set(id, i);
      this.idAt.push(id);
      if (i >= this.seenBy.length) {
        const grown = new Int32Array(this.seenBy.length * 2);
        grown.set(this.seenBy);
        this.seenBy = grown;
      }
    }
    return i;
  }

  /** A process started (its own membership row starts empty). */
  addLive(id: string): void {
    if (this.live.has(id)) return;
    const i = this.index(id);
    this.live.add(id);
    this.rows[i] = new Uint32Array(Math.max(1, (this.idAt.length + 31) >>> 5));
    this.goodPairs += this.seenBy[i]!;
  }

  /** A process died: its row goes, and it no longer counts as a subject. */
  removeLive(id: string): void {
    const i = this.indexOf.get(id);
    const row = i === undefined ? undefined : this.rows[i];
    if (i === undefined || !row) return;
    this.rows[i] = undefined;
    for (let w = 0; w < row.length; w++) {
      let bits = row[w]!;
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits);
        bits &= ~(1 << b);
        this.decrement((w << 5) | b);
      }
    }
    this.live.delete(id);
    this.goodPairs -= this.seenBy[i]!;
    if (this.seenBy[i] === 0) this.onUnseen?.(id);
  }

  /** Observer's view of subject changed: up = alive or suspect. */
  observe(observer: string, subject: string, up: boolean): void {
    const oi = this.indexOf.get(observer);
    let row = oi === undefined ? undefined : this.rows[oi];
    if (oi === undefined || !row || observer === subject) return;
    const si = this.index(subject);
    const w = si >>> 5;
    const bit = 1 << (si & 31);
    if (w >= row.length) {
      if (!up) return;
      const grown = new Uint32Array(Math.max(w + 1, row.length * 2));
      grown.set(row);
      this.rows[oi] = row = grown;
    }
    const has = (row[w]! & bit) !== 0;
    if (has === up) return;
    if (up) {
      row[w] = row[w]! | bit;
      this.seenBy[si]!++;
      if (this.live.has(subject)) this.goodPairs++;
    } else {
      row[w] = row[w]! & ~bit;
      this.decrement(si);
    }
  }

  /** Live observers that see `subject`. */
  seenCount(subject: string): number {
    const i = this.indexOf.get(subject);
    return i === undefined ? 0 : this.seenBy[i]!;
  }

  converged(): boolean {
    const l = this.live.size;
    return this.goodPairs === l * (l - 1);
  }

  private decrement(si: number): void {
    const n = --this.seenBy[si]!;
    const id = this.idAt[si]!;
    if (this.live.has(id)) this.goodPairs--;
    if (n <= 0) this.onUnseen?.(id);
  }
}

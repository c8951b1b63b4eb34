// Who sees whom, maintained incrementally from membership events so that
// "has the cluster converged?" is an O(1) question after every event
// (no O(N²) scan per tick). A member "sees" another when it holds it as alive
// or suspect. Only running processes count, as observers and as subjects.

export class ViewTracker {
  private readonly live = new Set<string>();
  private readonly sees = new Map<string, Set<string>>();
  /** subject id → number of live observers that see it. */
  private readonly seenBy = new Map<string, number>();
  /** Σ over live subjects of seenBy: converged when it equals L × (L - 1). */
  private goodPairs = 0;
  /** Called when a watched subject stops being seen by any live observer. */
  onUnseen: ((id: string) => void) | undefined;

  get liveCount(): number {
    return this.live.size;
  }

  isLive(id: string): boolean {
    return this.live.has(id);
  }

  /** A process started (its own membership row starts empty). */
  addLive(id: string): void {
    if (this.live.has(id)) return;
    this.live.add(id);
    this.sees.set(id, new Set());
    this.goodPairs += this.seenBy.get(id) ?? 0;
  }

  /** A process died: its row goes, and it no longer counts as a subject. */
  removeLive(id: string): void {
    const row = this.sees.get(id);
    if (!row) return;
    this.sees.delete(id);
    for (const m of row) this.decrement(m);
    this.live.delete(id);
    this.goodPairs -= this.seenBy.get(id) ?? 0;
    if ((this.seenBy.get(id) ?? 0) === 0) this.onUnseen?.(id);
  }

  /** Observer's view of subject changed: up = alive or suspect. */
  observe(observer: string, subject: string, up: boolean): void {
    const row = this.sees.get(observer);
    if (!row || observer === subject) return;
    if (row.has(subject) === up) return;
    if (up) {
      row.add(subject);
      this.seenBy.set(subject, (this.seenBy.get(subject) ?? 0) + 1);
      if (this.live.has(subject)) this.goodPairs++;
    } else {
      row.delete(subject);
      this.decrement(subject);
    }
  }

  /** Live observers that see `subject`. */
  seenCount(subject: string): number {
    return this.seenBy.get(subject) ?? 0;
  }

  converged(): boolean {
    const l = this.live.size;
    return this.goodPairs === l * (l - 1);
  }

  private decrement(subject: string): void {
    const n = (this.seenBy.get(subject) ?? 0) - 1;
    if (n <= 0) this.seenBy.delete(subject);
    else this.seenBy.set(subject, n);
    if (this.live.has(subject)) this.goodPairs--;
    if (n <= 0) this.onUnseen?.(subject);
  }
}

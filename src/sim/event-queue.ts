// The simulator's event queue: a binary min-heap ordered by (time, seq), so
// events at the same virtual time run in the order they were scheduled and a
// run replays exactly. Cancellation is lazy (a flag checked when popped).

export interface SimEvent {
  readonly time: number;
  /** Scheduling order; also the TimerHandle id. */
  readonly id: number;
  /** Replaced by a no-op when cancelled, so a cancelled timer left in the heap holds nothing it captured. */
  fn: () => void;
  /** The event settles a promise: the loop lets continuations run before the next event. */
  readonly settles: boolean;
  cancelled: boolean;
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.id < b.id);
}

export class EventQueue {
  private heap: SimEvent[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(e: SimEvent): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = e;
  }

  peek(): SimEvent | undefined {
    return this.heap[0];
  }

  pop(): SimEvent | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && before(h[r], h[l]) ? r : l;
        if (!before(h[c], last)) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

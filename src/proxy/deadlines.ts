// Request deadlines without a timer each. Requests armed with the same timeout
// length expire in the order they were armed, so one FIFO per length and one
// node timer for its oldest live entry are enough: arming is a push, cancelling
// clears a field. (A setTimeout + clearTimeout per request — a Timeout object,
// a timer-list insert and unlink — showed in the fast path's profile.) Entries
// cancelled behind a live one are skipped, and compacted away when they pile up
// (one slow request among many quick ones). The timer is cleared whenever no
// live deadline is left.

/** What a deadline calls when it expires. */
export interface Expirable {
  expire(): void;
}

export class Deadline {
  constructor(
    readonly at: number,
    public target: Expirable | undefined,
    private readonly list: DeadlineList,
  ) {}

  cancel(): void {
    if (this.target === undefined) return;
    this.target = undefined;
    this.list.cancelled();
  }
}

class DeadlineList {
  #q: Deadline[] = [];
  #head = 0;
  #live = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(readonly ms: number) {}

  add(target: Expirable, now: number): Deadline {
    this.#skipCancelled();
    const d = new Deadline(now + this.ms, target, this);
    this.#q.push(d);
    this.#live++;
    if (this.#timer === undefined) this.#arm(d.at, now);
    return d;
  }

  cancelled(): void {
    if (--this.#live === 0) {
      // Nothing left to expire: no timer keeps the process alive for nothing.
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#q.length = 0;
      this.#head = 0;
      return;
    }
    const waiting = this.#q.length - this.#head;
    if (waiting > 1024 && waiting > 4 * this.#live) {
      this.#q = this.#q.slice(this.#head).filter((d) => d.target !== undefined);
      this.#head = 0;
    }
  }

  #skipCancelled(): void {
    const q = this.#q;
    while (this.#head < q.length && q[this.#head]!.target === undefined) this.#head++;
    if (this.#head === q.length) {
      q.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > q.length) {
      this.#q = q.slice(this.#head);
      this.#head = 0;
    }
  }

  #arm(at: number, now: number): void {
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(at - now)));
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    const q = this.#q;
    while (this.#head < q.length) {
      const d = q[this.#head]!;
      if (d.target !== undefined && d.at > now) break;
      this.#head++;
      const t = d.target;
      if (t === undefined) continue;
      d.target = undefined;
      this.#live--;
      t.expire();
    }
    this.#skipCancelled();
    if (this.#timer === undefined && this.#head < this.#q.length) this.#arm(this.#q[this.#head]!.at, now);
  };

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#q = [];
    this.#head = 0;
    this.#live = 0;
  }
}

/** Deadlines by timeout length. */
export class Deadlines {
  readonly #lists = new Map<number, DeadlineList>();

  /** `target.expire()` runs `ms` after `now` (a performance.now() reading) unless the deadline is cancelled first. */
  arm(ms: number, target: Expirable, now: number): Deadline {
    let l = this.#lists.get(ms);
    if (!l) this.#lists.set(ms, (l = new DeadlineList(ms)));
    return l.add(target, now);
  }

  close(): void {
    for (const l of this.#lists.values()) l.close();
    this.#lists.clear();
  }
}

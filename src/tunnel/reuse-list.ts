// A list that keeps its backing store. V8 drops a JS array's elements when its
// length is set to 0 (and may shrink them on pop/shift), so an array emptied and
// refilled on every message allocates a new backing store each time: garbage per
// message on the tunnel's hot path. ReuseList counts its own length instead;
// clear() drops the references (no stream is kept alive) but not the storage.
export class ReuseList<T> {
  private items: (T | null)[] = [];
  length = 0;

  push(x: T): void {
    if (this.length < this.items.length) this.items[this.length] = x;
    else this.items.push(x);
    this.length++;
  }

  at(i: number): T {
    return this.items[i] as T;
  }

  /** Removes the first n items, keeping the order of the rest. */
  dropFirst(n: number): void {
    const items = this.items;
    for (let i = n; i < this.length; i++) items[i - n] = items[i]!;
    for (let i = Math.max(0, this.length - n); i < this.length; i++) items[i] = null;
    this.length = Math.max(0, this.length - n);
  }

  clear(): void {
    const items = this.items;
    for (let i = 0; i < this.length; i++) items[i] = null;
    this.length = 0;
  }
}

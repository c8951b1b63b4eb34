// The set of dots (member, counter) a replica has seen, stored per member as
// sorted disjoint closed intervals so a long unbroken history costs one pair.

export interface Dot {
  readonly node: string;
  readonly counter: number;
}

export function dotKey(node: string, counter: number): string {
  return `${counter}@${node}`;
}

type Intervals = [number, number][];

export class CausalContext {
  private readonly byNode = new Map<string, Intervals>();

  nodes(): IterableIterator<string> {
    return this.byNode.keys();
  }

  intervals(node: string): readonly (readonly [number, number])[] {
    return this.byNode.get(node) ?? [];
  }

  isEmpty(): boolean {
    return this.byNode.size === 0;
  }

  /** Largest counter seen from `node` (0 when none). */
  max(node: string): number {
    const iv = this.byNode.get(node);
    return iv && iv.length > 0 ? iv[iv.length - 1]![1] : 0;
  }

  /** Number of dots (for choosing the cheaper side of a scan). */
  size(): number {
    let n = 0;
    for (const iv of this.byNode.values()) for (const [lo, hi] of iv) n += hi - lo + 1;
    return n;
  }

  has(node: string, counter: number): boolean {
    const iv = this.byNode.get(node);
    if (!iv) return false;
    let lo = 0;
    let hi = iv.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const [a, b] = iv[mid]!;
      if (counter < a) hi = mid - 1;
      else if (counter > b) lo = mid + 1;
      else return true;
    }
    return false;
  }

  add(node: string, counter: number): void {
    this.addRange(node, counter, counter);
  }

  addRange(node: string, from: number, to: number): void {
    if (to < from) return;
    const iv = this.byNode.get(node) ?? [];
    // Find the first interval that ends at or after from - 1 (could touch or overlap).
    let i = 0;
    while (i < iv.length && iv[i]![1] < from - 1) i++;
    let lo = from;
    let hi = to;
    let j = i;
    while (j < iv.length && iv[j]![0] <= to + 1) {
      lo = Math.min(lo, iv[j]![0]);
      hi = Math.max(hi, iv[j]![1]);
      j++;
    }
    iv.splice(i, j - i, [lo, hi]);
    this.byNode.set(node, iv);
  }

  union(other: CausalContext): void {
    for (const [node, iv] of other.byNode) for (const [lo, hi] of iv) this.addRange(node, lo, hi);
  }

  /** Dots in this context and not in `other`. */
  difference(other: CausalContext): CausalContext {
    const out = new CausalContext();
    for (const [node, iv] of this.byNode) {
      const theirs = other.byNode.get(node) ?? [];
      let k = 0;
      for (const [lo0, hi] of iv) {
        let lo = lo0;
        while (k < theirs.length && theirs[k]![1] < lo) k++;
        let m = k;
        while (lo <= hi) {
          const t = theirs[m];
          if (!t || t[0] > hi) {
            out.addRange(node, lo, hi);
            break;
          }
          if (t[0] > lo) out.addRange(node, lo, t[0] - 1);
          lo = t[1] + 1;
          m++;
        }
      }
    }
    return out;
  }

  /** Every dot, one by one (only for small contexts). */
  *dots(): IterableIterator<Dot> {
    for (const [node, iv] of this.byNode) for (const [lo, hi] of iv) for (let c = lo; c <= hi; c++) yield { node, counter: c };
  }

  clone(): CausalContext {
    const c = new CausalContext();
    for (const [node, iv] of this.byNode) c.byNode.set(node, iv.map(([a, b]) => [a, b] as [number, number]));
    return c;
  }
}

// An observed-remove set of strings with add-wins semantics, as a delta-state
// CRDT (Almeida, Shoker, Baquero): every add creates a unique dot (member,
// counter); a remove deletes only the dots it has observed, so an add that the
// remover had not seen survives. The causal context (every dot seen) tells a
// removed dot (seen, no longer in the store) from one not yet received.
//
// The class is the replica and its deltas: add/remove/merge return an OrSet
// holding just the new dots and the newly seen context.
//
// Encoding (canonical: nodes, elements and dots sorted):
//   u8 version 1
//   | nodes varuint | nodes × (node str | intervals varuint | intervals × (first varuint | last-first varuint))
//   | elements varuint | elements × (element str | dots varuint | dots × (node index varuint | counter varuint))

import { ByteReader, ByteWriter } from '../codec.js';
import type { GossipData } from '../gossiper.js';
import { CausalContext, dotKey, type Dot } from './causal-context.js';

export const MAX_ELEMENT_BYTES = 1024;
const VERSION = 1;

export class OrSet implements GossipData {
  /** element → its live dots (by dotKey). */
  private readonly store = new Map<string, Map<string, Dot>>();
  /** dotKey → element, for removals found through the context. */
  private readonly dotIndex = new Map<string, string>();
  private readonly context = new CausalContext();
  /** Set on the delta of a local add/remove: the element, for queue invalidation. */
  private opKey: string | undefined;

  /** A replica takes the local member id (its dots); a delta has none. */
  constructor(readonly node?: string) {}

  has(element: string): boolean {
    return this.store.has(element);
  }

  get size(): number {
    return this.store.size;
  }

  values(): string[] {
    return [...this.store.keys()];
  }

  /** Add (or re-add) an element; returns the delta to gossip. */
  add(element: string): OrSet {
    if (this.node === undefined) throw new Error('OrSet: a delta cannot be written to, only merged');
    const delta = new OrSet();
    delta.opKey = element;
    this.dropDots(element, delta.context);
    const dot: Dot = { node: this.node, counter: this.context.max(this.node) + 1 };
    this.addDot(element, dot);
    this.context.add(dot.node, dot.counter);
    delta.addDot(element, dot);
    delta.context.add(dot.node, dot.counter);
    return delta;
  }

  /** Remove the element's observed dots; returns the delta to gossip, or null if it was absent. */
  remove(element: string): OrSet | null {
    if (!this.store.has(element)) return null;
    const delta = new OrSet();
    delta.opKey = element;
    this.dropDots(element, delta.context);
    return delta;
  }

  merge(other: GossipData): OrSet | null {
    if (!(other instanceof OrSet)) return null;
    const delta = new OrSet();
    const newlySeen = other.context.difference(this.context);
    // Dots the other has that we neither hold nor removed.
    for (const [element, dots] of other.store) {
      for (const [k, dot] of dots) {
        if (this.dotIndex.has(k) || this.context.has(dot.node, dot.counter)) continue;
        this.addDot(element, dot);
        delta.addDot(element, dot);
      }
    }
    // Our dots the other has seen and no longer holds: removed there. Scan the smaller side.
    const removed: [string, Dot][] = [];
    const consider = (k: string, element: string, dot: Dot): void => {
      if (other.context.has(dot.node, dot.counter) && !other.dotIndex.has(k)) removed.push([element, dot]);
    };
    if (other.context.size() < this.dotIndex.size) {
      for (const dot of other.context.dots()) {
        const k = dotKey(dot.node, dot.counter);
        const element = this.dotIndex.get(k);
        if (element !== undefined) consider(k, element, dot);
      }
    } else {
      for (const [element, dots] of this.store) for (const [k, dot] of dots) consider(k, element, dot);
    }
    for (const [element, dot] of removed) {
      this.removeDot(element, dot);
      delta.context.add(dot.node, dot.counter);
    }
    delta.context.union(newlySeen);
    this.context.union(other.context);
    return delta.store.size === 0 && delta.context.isEmpty() ? null : delta;
  }

  broadcastKey(): string | undefined {
    return this.opKey;
  }

  encode(): Uint8Array {
    const w = new ByteWriter(64);
    const nodes = [...this.context.nodes()].sort();
    const nodeIndex = new Map(nodes.map((n, i) => [n, i]));
    w.u8(VERSION).varuint(nodes.length);
    for (const node of nodes) {
      const iv = this.context.intervals(node);
      w.string(node).varuint(iv.length);
      for (const [lo, hi] of iv) w.varuint(lo).varuint(hi - lo);
    }
    const elements = [...this.store.keys()].sort();
    w.varuint(elements.length);
    for (const element of elements) {
      const dots = [...this.store.get(element)!.values()].sort((a, b) =>
        a.node === b.node ? a.counter - b.counter : a.node < b.node ? -1 : 1,
      );
      w.string(element).varuint(dots.length);
      for (const d of dots) w.varuint(nodeIndex.get(d.node)!).varuint(d.counter);
    }
    return w.finish();
  }

  /** Parse an encoded set; null on any malformed byte or broken invariant (never throws). */
  static decode(bytes: Uint8Array): OrSet | null {
    const r = new ByteReader(bytes);
    if (r.u8() !== VERSION) return null;
    const set = new OrSet();
    const nodes: string[] = [];
    const nodeCount = r.count(2);
    for (let i = 0; i < nodeCount && r.ok; i++) {
      const node = r.string();
      nodes.push(node);
      const n = r.count(2);
      let prevLast = 0;
      for (let j = 0; j < n && r.ok; j++) {
        const first = r.varuint();
        const last = first + r.varuint();
        if (first <= prevLast || !Number.isSafeInteger(last)) r.fail(); // counters start at 1, intervals ascend
        else set.context.addRange(node, first, last);
        prevLast = last;
      }
    }
    if (new Set(nodes).size !== nodes.length) return null;
    const elementCount = r.count(2);
    for (let i = 0; i < elementCount && r.ok; i++) {
      const element = r.string(MAX_ELEMENT_BYTES);
      const n = r.count(2);
      if (n === 0 || set.store.has(element)) r.fail();
      for (let j = 0; j < n && r.ok; j++) {
        const node = nodes[r.varuint()];
        const counter = r.varuint();
        if (node === undefined || !set.context.has(node, counter) || set.dotIndex.has(dotKey(node, counter))) r.fail();
        else set.addDot(element, { node, counter });
      }
    }
    return r.done ? set : null;
  }

  private addDot(element: string, dot: Dot): void {
    const k = dotKey(dot.node, dot.counter);
    let dots = this.store.get(element);
    if (!dots) {
      dots = new Map();
      this.store.set(element, dots);
    }
    dots.set(k, dot);
    this.dotIndex.set(k, element);
  }

  private removeDot(element: string, dot: Dot): void {
    const k = dotKey(dot.node, dot.counter);
    const dots = this.store.get(element);
    if (!dots) return;
    dots.delete(k);
    this.dotIndex.delete(k);
    if (dots.size === 0) this.store.delete(element);
  }

  /** Remove all of an element's dots, recording them in `into` (they are now observed-removed). */
  private dropDots(element: string, into: CausalContext): void {
    const dots = this.store.get(element);
    if (!dots) return;
    for (const [k, dot] of dots) {
      into.add(dot.node, dot.counter);
      this.dotIndex.delete(k);
    }
    this.store.delete(element);
  }
}

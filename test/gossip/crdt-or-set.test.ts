import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OrSet } from '../../src/gossip/crdt/or-set.js';
import { CausalContext } from '../../src/gossip/crdt/causal-context.js';
import { seededRandom } from './_memory-transport.js';

const copy = (s: OrSet): OrSet => OrSet.decode(s.encode())!;
const hex = (s: OrSet): string => Buffer.from(s.encode()).toString('hex');
function joined(...sets: OrSet[]): OrSet {
  const out = new OrSet();
  for (const s of sets) out.merge(copy(s));
  return out;
}

type Op = ['add' | 'remove', number, string] | ['sync', number, number];
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.tuple(fc.constantFrom('add' as const, 'remove' as const), fc.integer({ min: 0, max: 2 }), fc.constantFrom('a', 'b', 'c')),
  fc.tuple(fc.constant('sync' as const), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
);

/** Three replicas after a random history of adds, removes and one-way full-state syncs. */
function history(ops: Op[]): OrSet[] {
  const rs = ['n1', 'n2', 'n3'].map((n) => new OrSet(n));
  for (const op of ops) {
    if (op[0] === 'sync') rs[op[2]]!.merge(copy(rs[op[1]]!));
    else if (op[0] === 'add') rs[op[1]]!.add(op[2]);
    else rs[op[1]]!.remove(op[2]);
  }
  return rs;
}

const statesArb = fc.array(opArb, { maxLength: 25 }).map(history);

describe('OrSet merge is a join', () => {
  test('commutative', () => {
    fc.assert(fc.property(statesArb, ([a, b]) => hex(joined(a!, b!)) === hex(joined(b!, a!))));
  });

  test('associative', () => {
    fc.assert(fc.property(statesArb, ([a, b, c]) => hex(joined(joined(a!, b!), c!)) === hex(joined(a!, joined(b!, c!)))));
  });

  test('idempotent, and a repeated merge reports nothing new', () => {
    fc.assert(
      fc.property(statesArb, ([a]) => {
        const x = copy(a!);
        return x.merge(copy(a!)) === null && hex(x) === hex(a!);
      }),
    );
  });

  test('the returned delta carries everything new: merging it elsewhere equals merging the whole', () => {
    fc.assert(
      fc.property(statesArb, ([a, b, c]) => {
        // c saw a's state before; a then learns b; a's delta must bring c to the same place as b would.
        const cc = joined(c!, a!);
        const x = copy(a!);
        const delta = x.merge(copy(b!));
        const viaDelta = copy(cc);
        if (delta) viaDelta.merge(OrSet.decode(delta.encode())!);
        const viaWhole = joined(cc, x);
        return hex(viaDelta) === hex(viaWhole);
      }),
    );
  });
});

describe('OrSet replicas converge', () => {
  test('deltas delivered in any order, duplicated and interleaved with local ops, converge', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom('add', 'remove', 'deliver'),
            fc.integer({ min: 0, max: 2 }),
            fc.constantFrom('a', 'b', 'c', 'd'),
          ),
          { minLength: 1, maxLength: 40 },
        ),
        fc.integer(),
        (ops, seed) => {
          const random = seededRandom(seed);
          const rs = ['n1', 'n2', 'n3'].map((n) => new OrSet(n));
          const pending: Uint8Array[][] = [[], [], []];
          const all: Uint8Array[] = [];
          for (const [op, r, e] of ops) {
            if (op === 'deliver') {
              const queue = pending[r]!;
              const take = random.int(queue.length + 1);
              for (let i = 0; i < take; i++) {
                const [d] = queue.splice(random.int(queue.length), 1);
                rs[r]!.merge(OrSet.decode(d!)!);
              }
              continue;
            }
            const delta = op === 'add' ? rs[r]!.add(e) : rs[r]!.remove(e);
            if (!delta) continue;
            const bytes = delta.encode();
            all.push(bytes);
            for (let t = 0; t < 3; t++) if (t !== r) pending[t]!.push(bytes);
          }
          for (let t = 0; t < 3; t++) {
            const rest = [...pending[t]!, ...all.filter(() => random.float() < 0.3)];
            for (let i = rest.length - 1; i > 0; i--) {
              const j = random.int(i + 1);
              [rest[i], rest[j]] = [rest[j]!, rest[i]!];
            }
            for (const d of rest) rs[t]!.merge(OrSet.decode(d)!);
          }
          return hex(rs[0]!) === hex(rs[1]!) && hex(rs[1]!) === hex(rs[2]!);
        },
      ),
    );
  });
});

describe('OrSet semantics', () => {
  test('concurrent add and remove: the add wins', () => {
    const a = new OrSet('a');
    const b = new OrSet('b');
    b.merge(a.add('x'));
    const removal = a.remove('x')!;
    const readd = b.add('x'); // b had not seen the removal
    a.merge(readd);
    b.merge(removal);
    assert.ok(a.has('x'));
    assert.ok(b.has('x'));
  });

  test('a remove deletes every add it observed, from any member', () => {
    const a = new OrSet('a');
    const b = new OrSet('b');
    const c = new OrSet('c');
    const fromA = a.add('x');
    const fromB = b.add('x');
    c.merge(fromA);
    c.merge(fromB);
    const removal = c.remove('x')!;
    a.merge(fromB);
    a.merge(removal);
    b.merge(fromA);
    b.merge(removal);
    assert.ok(!a.has('x') && !b.has('x') && !c.has('x'));
  });

  test('a remove that arrives before the add it observed still wins over it', () => {
    const a = new OrSet('a');
    const b = new OrSet('b');
    const c = new OrSet('c');
    const add = a.add('x');
    b.merge(add);
    const removal = b.remove('x')!;
    c.merge(removal);
    assert.equal(c.merge(add), null, 'the add was already observed-removed');
    assert.ok(!c.has('x'));
  });

  test('re-adding replaces the old dot and the state stays small', () => {
    const a = new OrSet('a');
    for (let i = 0; i < 100; i++) a.add('x');
    assert.equal(a.size, 1);
    assert.ok(a.encode().length < 24, `${a.encode().length} bytes`);
  });

  test('remove of an absent element is a no-op', () => {
    assert.equal(new OrSet('a').remove('nope'), null);
  });

  test('decode rejects truncated and malformed bytes and broken invariants without throwing', () => {
    const a = new OrSet('a');
    const b = new OrSet('b');
    a.add('one');
    a.add('two');
    a.merge(b.add('three'));
    a.remove('two');
    const bytes = a.encode();
    assert.equal(hex(OrSet.decode(bytes)!), hex(a));
    for (let n = 0; n < bytes.length; n++) assert.equal(OrSet.decode(bytes.subarray(0, n)), null, `prefix ${n}`);
    // A dot outside the causal context: u8 v1 | 1 node "a" with [1..1] | 1 element "e" with dot (node 0, counter 5)
    const orphan = new Uint8Array([1, 1, 1, 97, 1, 1, 0, 1, 1, 101, 1, 0, 5]);
    assert.equal(OrSet.decode(orphan), null);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
        const s = OrSet.decode(junk);
        return s === null || s instanceof OrSet;
      }),
    );
  });
});

describe('CausalContext', () => {
  test('difference and union agree with a plain set model', () => {
    const dotsArb = fc.array(fc.tuple(fc.constantFrom('p', 'q'), fc.integer({ min: 1, max: 30 })), { maxLength: 40 });
    fc.assert(
      fc.property(dotsArb, dotsArb, (xs, ys) => {
        const x = new CausalContext();
        const y = new CausalContext();
        for (const [n, c] of xs) x.add(n, c);
        for (const [n, c] of ys) y.add(n, c);
        const model = (ds: [string, number][]) => new Set(ds.map(([n, c]) => `${n}${c}`));
        const mx = model(xs);
        const my = model(ys);
        const diff = new Set([...x.difference(y).dots()].map((d) => `${d.node}${d.counter}`));
        assert.deepEqual(diff, new Set([...mx].filter((d) => !my.has(d))));
        const u = x.clone();
        u.union(y);
        assert.equal(u.size(), new Set([...mx, ...my]).size);
        for (const [n, c] of [...xs, ...ys]) assert.ok(u.has(n, c));
        return true;
      }),
    );
  });
});

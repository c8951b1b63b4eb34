import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LwwMap, type LwwEntry } from '../../src/gossip/crdt/lww-map.js';
import { HybridLogicalClock, compareTimestamps } from '../../src/gossip/crdt/hlc.js';
import { ManualClock, seededRandom } from './_memory-transport.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));

function replica(node: string, clock: ManualClock, tombstoneTtlMs?: number): LwwMap {
  return new LwwMap({ clock: new HybridLogicalClock(node, clock), time: clock, tombstoneTtlMs });
}

/** A copy with no clock (merging into it does not disturb the original). */
function copy(m: LwwMap): LwwMap {
  return LwwMap.decode(m.encode())!;
}

function joined(...maps: LwwMap[]): LwwMap {
  const out = new LwwMap();
  for (const m of maps) out.merge(copy(m));
  return out;
}

const hex = (m: LwwMap): string => Buffer.from(m.encode()).toString('hex');

// Arbitrary states, including equal timestamps with different values and tombstone/value ties.
const entryArb: fc.Arbitrary<[string, LwwEntry]> = fc.tuple(
  fc.constantFrom('a', 'b', 'c', 'd'),
  fc.integer({ min: 0, max: 4 }),
  fc.integer({ min: 0, max: 2 }),
  fc.constantFrom('n1', 'n2', 'n3'),
  fc.option(fc.uint8Array({ maxLength: 3 }), { nil: null }),
).map(([key, wall, counter, node, value]) => [key, { value, ts: { wall, counter, node } }]);

const stateArb = fc.array(entryArb, { maxLength: 12 }).map((entries) => {
  const m = new LwwMap();
  for (const [k, e] of entries) m.put(k, e);
  return m;
});

describe('LwwMap merge is a join', () => {
  test('commutative', () => {
    fc.assert(fc.property(stateArb, stateArb, (a, b) => hex(joined(a, b)) === hex(joined(b, a))));
  });

  test('associative', () => {
    fc.assert(
      fc.property(stateArb, stateArb, stateArb, (a, b, c) => hex(joined(joined(a, b), c)) === hex(joined(a, joined(b, c)))),
    );
  });

  test('idempotent, and a repeated merge reports nothing new', () => {
    fc.assert(
      fc.property(stateArb, (a) => {
        const x = copy(a);
        const delta = x.merge(copy(a));
        return delta === null && hex(x) === hex(a);
      }),
    );
  });

  test('the returned delta carries everything new: merging it elsewhere equals merging the whole', () => {
    fc.assert(
      fc.property(stateArb, stateArb, (a, b) => {
        const x = copy(a);
        const delta = x.merge(copy(b));
        const viaDelta = copy(a);
        if (delta) viaDelta.merge(LwwMap.decode(delta.encode())!);
        return hex(viaDelta) === hex(x);
      }),
    );
  });
});

describe('LwwMap replicas converge', () => {
  test('any delivery order with duplicates gives every replica the same state', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 2 }),
            fc.constantFrom('set', 'del', 'tick'),
            fc.constantFrom('x', 'y', 'z'),
            fc.string({ maxLength: 3 }),
          ),
          { minLength: 1, maxLength: 30 },
        ),
        fc.integer(),
        (ops, seed) => {
          const clock = new ManualClock();
          const replicas = ['n1', 'n2', 'n3'].map((n) => replica(n, clock));
          const deltas: Uint8Array[] = [];
          for (const [r, op, key, value] of ops) {
            if (op === 'tick') clock.advance(1);
            else deltas.push((op === 'set' ? replicas[r]!.set(key, enc(value)) : replicas[r]!.delete(key)).encode());
          }
          const random = seededRandom(seed);
          for (const target of replicas) {
            const order = [...deltas, ...deltas.filter(() => random.float() < 0.3)];
            for (let i = order.length - 1; i > 0; i--) {
              const j = random.int(i + 1);
              [order[i], order[j]] = [order[j]!, order[i]!];
            }
            for (const d of order) target.merge(LwwMap.decode(d)!);
          }
          const first = hex(replicas[0]!);
          return replicas.every((m) => hex(m) === first);
        },
      ),
    );
  });
});

describe('LwwMap semantics', () => {
  test('the later write wins, wherever it was made', () => {
    const clock = new ManualClock();
    const a = replica('a', clock);
    const b = replica('b', clock);
    const d1 = a.set('k', enc('one'));
    clock.advance(5);
    const d2 = b.set('k', enc('two'));
    a.merge(d2);
    b.merge(d1);
    assert.equal(dec(a.get('k')), 'two');
    assert.equal(dec(b.get('k')), 'two');
  });

  test('writes in the same millisecond order by counter, then member id', () => {
    const clock = new ManualClock();
    const a = replica('a', clock);
    const b = replica('b', clock);
    const da = a.set('k', enc('from-a'));
    const db = b.set('k', enc('from-b')); // same wall, same counter: "b" > "a" breaks the tie
    a.merge(db);
    b.merge(da);
    assert.equal(dec(a.get('k')), 'from-b');
    assert.equal(dec(b.get('k')), 'from-b');
  });

  test('a write made after seeing a remote one wins even when the local clock lags', () => {
    const fast = new ManualClock(10_000);
    const slow = new ManualClock(5_000);
    const a = replica('a', fast);
    const b = replica('z', slow);
    b.merge(a.set('k', enc('first')));
    const reply = b.set('k', enc('second')); // slow clock, but the HLC has seen wall 10000
    assert.ok(compareTimestamps(reply.entry('k')!.ts, a.entry('k')!.ts) > 0);
    a.merge(reply);
    assert.equal(dec(a.get('k')), 'second');
  });

  test('a runaway remote clock is merged but not adopted', () => {
    const clock = new ManualClock(1_000);
    const a = replica('a', clock);
    const far = new LwwMap();
    far.put('k', { value: enc('future'), ts: { wall: 1_000 + 3_600_000, counter: 0, node: 'evil' } });
    a.merge(far);
    const d = a.set('other', enc('v'));
    assert.ok(d.entry('other')!.ts.wall < 2_000);
  });

  test('delete leaves a tombstone that beats older writes, and it expires after the TTL', () => {
    const clock = new ManualClock();
    const a = replica('a', clock, 10_000);
    const b = replica('b', clock, 10_000);
    const set = a.set('k', enc('v'));
    b.merge(set);
    clock.advance(1);
    const del = b.delete('k');
    a.merge(del);
    a.merge(set); // late duplicate of the older write
    assert.equal(a.get('k'), undefined);
    assert.equal(a.entryCount, 1, 'the tombstone is kept');
    clock.advance(10_001);
    assert.equal(a.gc(), 1);
    assert.equal(a.entryCount, 0);
  });

  test('change events report visible value changes from local writes, merges and purges', () => {
    const clock = new ManualClock();
    const a = replica('a', clock);
    const b = replica('b', clock);
    const seen: string[] = [];
    a.onChange((k, v, p) => seen.push(`${k}:${dec(p ?? undefined) ?? '-'}>${dec(v ?? undefined) ?? '-'}`));
    a.set('k', enc('1'));
    clock.advance(1);
    a.merge(b.set('k', enc('2')));
    a.merge(b.set('j', enc('3')));
    a.purge((k) => k === 'j');
    assert.deepEqual(seen, ['k:->1', 'k:1>2', 'j:->3', 'j:3>-']);
  });

  test('one-entry deltas carry a broadcast key; split gives one delta per key', () => {
    const clock = new ManualClock();
    const a = replica('a', clock);
    assert.equal(a.set('k', enc('v')).broadcastKey(), 'k');
    a.set('j', enc('w'));
    const whole = copy(a);
    assert.equal(whole.broadcastKey(), undefined);
    assert.deepEqual(whole.split().map((p) => p.broadcastKey()).sort(), ['j', 'k']);
  });

  test('decode rejects truncated, trailing and malformed bytes without throwing', () => {
    const clock = new ManualClock();
    const a = replica('a', clock);
    a.set('key', enc('value'));
    a.delete('gone');
    const bytes = a.encode();
    for (let n = 0; n < bytes.length; n++) assert.equal(LwwMap.decode(bytes.subarray(0, n)), null, `prefix ${n}`);
    assert.equal(LwwMap.decode(new Uint8Array([...bytes, 0])), null);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
        const m = LwwMap.decode(junk);
        return m === null || m instanceof LwwMap;
      }),
    );
    const bad = bytes.slice();
    bad[0] = 9;
    assert.equal(LwwMap.decode(bad), null, 'unknown version');
  });
});

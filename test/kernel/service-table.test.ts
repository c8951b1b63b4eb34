// Service table kernel vs its TypeScript reference: random operation sequences, forced
// collisions, deletion/reinsertion, every fixed limit (WEFT-K005 and no corruption),
// compaction, bad IDs, batches, weighted-pick statistics and fixed memory size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ServiceTable, SERVICE_TABLE_LIMITS as L, packServiceIds, type ServiceId } from '../../src/kernel/service-table.js';
import { ServiceTableReference, xxh32, keyHash } from '../../src/kernel/service-table-reference.js';
import { simdSupported, type KernelVariant } from '../../src/kernel/load.js';
import { WeftError } from '../../src/errors.js';

const variants: KernelVariant[] = simdSupported() ? ['simd', 'scalar'] : ['scalar'];
const utf8 = new TextEncoder();

// Tables are reused (cleared) across property runs: each is a WebAssembly instance.
const pool = new Map<string, ServiceTable>();
function table(variant: KernelVariant, capacity: number): ServiceTable {
  const key = `${variant}:${capacity}`;
  let t = pool.get(key);
  if (!t) pool.set(key, (t = new ServiceTable({ variant, capacity })));
  t.clear();
  return t;
}

/** Runs f and returns its value, or the WeftError code it threw. */
function outcome<T>(f: () => T): T | string {
  try {
    return f();
  } catch (err) {
    if (err instanceof WeftError) return err.code;
    throw err;
  }
}

/** mulberry32: a small deterministic u32 generator for the statistical tests. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

test('hashes: xxh32 known vectors; the kernel computes the same xxh32 and slot hash as the TS code', () => {
  const vectors: [string, number, number][] = [
    ['', 0, 0x02cc5d05],
    ['a', 0, 0x550d7456],
    ['abc', 0, 0x32d153ff],
    ['abcdefghijklmnopqrstuvwxyz', 0, 0x63a14d5f],
  ];
  for (const [s, seed, h] of vectors) assert.equal(xxh32(utf8.encode(s), seed), h, `xxh32(${JSON.stringify(s)}, ${seed})`);
  for (const v of variants) {
    const t = table(v, 1);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 255 }), fc.integer({ min: 0, max: 0xffffffff }), (b, seed) => t.hash(b, seed) === xxh32(b, seed)),
      { numRuns: 300 },
    );
    const k = (t as unknown as { k: { key_hash_io(len: number, seed: number): number } }).k;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 255 }), fc.integer({ min: 0, max: 0xffffffff }), (b, seed) => {
        t.hash(b); // stages b at KEY_IO
        return k.key_hash_io(b.length, seed) >>> 0 === keyHash(b, seed);
      }),
      { numRuns: 300 },
    );
  }
});

// A small ID alphabet makes sets hit existing keys, deletes hit and miss, and reinsertion common.
const idArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('a.b.c', 'web.shop.prod', 'x', 'ü.mesh.ns', 'a'.repeat(255), 'q'.repeat(17)) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z]{1,3}\.[a-z]{1,2}\.n$/) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'z'.repeat(256), new Uint8Array(0), new Uint8Array(300)) },
);
const packable = (id: ServiceId) => {
  const n = typeof id === 'string' ? utf8.encode(id).length : id.length;
  return n > 0 && n <= 255;
};
const weightsArb = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 0xffffffff })), { maxLength: 6 });
const namesFor = (n: number, salt: number) => Array.from({ length: n }, (_, i) => `10.0.${salt}.${i}:8080`);
type Op =
  | { op: 'set'; id: ServiceId; weights: number[] }
  | { op: 'delete' | 'find'; id: ServiceId }
  | { op: 'pick'; id: ServiceId; random: number }
  | { op: 'maglev'; id: ServiceId; salt: number; size: number | undefined }
  | { op: 'consistent'; id: ServiceId; hash: number }
  | { op: 'batch'; ids: ServiceId[] }
  | { op: 'clear' };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), id: idArb, weights: weightsArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), id: idArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('find' as const), id: idArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('pick' as const), id: idArb, random: fc.integer({ min: 0, max: 0xffffffff }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('maglev' as const), id: idArb, salt: fc.integer({ min: 0, max: 3 }), size: fc.constantFrom(undefined, 251, 509, 250) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('consistent' as const), id: idArb, hash: fc.integer({ min: 0, max: 0xffffffff }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('batch' as const), ids: fc.array(idArb.filter(packable), { maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
);

function apply(t: ServiceTable | ServiceTableReference, o: Op): unknown {
  switch (o.op) {
    case 'set':
      return outcome(() => t.set(o.id, o.weights));
    case 'delete':
      return t.delete(o.id);
    case 'find':
      return t.find(o.id);
    case 'pick':
      return t.pick(o.id, o.random);
    case 'maglev':
      return outcome(() => {
        t.setMaglev(o.id, namesFor(Math.max(0, t.endpointCount(o.id)), o.salt), o.size);
        return Array.from(t.maglevTable(o.id)!).join(',');
      });
    case 'consistent':
      return t.pickConsistent(o.id, o.hash);
    case 'batch': {
      const out = new Int32Array(o.ids.length);
      const n = t.findBatchInto(packServiceIds(o.ids), out);
      return [n, ...out];
    }
    case 'clear':
      t.clear();
      return t.size;
  }
}

for (const variant of variants) {
  test(`${variant}: random set/delete/find/pick/maglev/batch sequences match the reference`, () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 3, 8, 40), fc.array(opArb, { maxLength: 60 }), (capacity, ops) => {
        const t = table(variant, capacity);
        const ref = new ServiceTableReference({ capacity });
        for (const o of ops) {
          assert.deepEqual(apply(t, o), apply(ref, o), `${o.op} ${JSON.stringify(o)}`);
          assert.equal(t.size, ref.size);
        }
      }),
      { numRuns: 150 },
    );
  });

  test(`${variant}: one long probe chain survives deletes from its middle and reinsertion`, () => {
    const capacity = 64;
    const t = new ServiceTable({ variant, capacity, hashSeed: 0x5eed });
    const mask = t.slotCount - 1;
    // Keys whose hash lands on the same home slot, plus keys homed just after it.
    const chain: string[] = [];
    const after: string[] = [];
    for (let i = 0; chain.length < 24 || after.length < 8; i++) {
      const id = `svc${i}.m.ns`;
      const home = keyHash(utf8.encode(id), 0x5eed) & mask;
      if (home === 5 && chain.length < 24) chain.push(id);
      else if (home > 5 && home < 12 && after.length < 8) after.push(id);
    }
    const ref = new ServiceTableReference({ capacity });
    const all = [...chain, ...after];
    for (const id of all) assert.equal(t.set(id, [1]), ref.set(id, [1]));
    for (const id of all) assert.equal(t.find(id), ref.find(id));
    const r = rng(7);
    const order = [...all].sort(() => (r() & 1 ? 1 : -1));
    for (const [i, id] of order.entries()) {
      assert.equal(t.delete(id), true);
      ref.delete(id);
      for (const other of all) assert.equal(t.find(other), ref.find(other), `after deleting ${i + 1}: ${other}`);
      if (i % 3 === 0) {
        assert.equal(t.set(id, [2, 3]), ref.set(id, [2, 3]), `reinsert ${id}`);
        assert.equal(t.pick(id, 0xffffffff), 1);
      }
    }
    assert.equal(t.size, ref.size);
  });

  test(`${variant}: a full table throws WEFT-K005 and loses nothing`, () => {
    const capacity = 10;
    const t = table(variant, capacity);
    for (let i = 0; i < capacity; i++) t.set(`s${i}.m.ns`, [i, 1]);
    assert.throws(() => t.set('one.more.ns', [1]), (e: WeftError) => e.code === 'WEFT-K005' && e.details.resource === 'services');
    assert.equal(t.size, capacity);
    assert.equal(t.find('one.more.ns'), -1);
    for (let i = 0; i < capacity; i++) {
      assert.equal(t.find(`s${i}.m.ns`), i);
      assert.equal(t.pick(`s${i}.m.ns`, 0), i === 0 ? 1 : 0);
    }
    assert.equal(t.set('s3.m.ns', [0, 0, 9]), 3, 'replacing still works when full');
    assert.equal(t.pick('s3.m.ns', 12345), 2);
    assert.equal(t.delete('s0.m.ns'), true);
    assert.equal(t.set('one.more.ns', [1]), 0, 'the freed route is reused');
  });

  test(`${variant}: key, endpoint and Maglev arenas fill up to WEFT-K005, compact, and match the reference`, () => {
    const t = table(variant, L.maxServices);
    const ref = new ServiceTableReference();
    const both = <T>(f: (x: ServiceTable | ServiceTableReference) => T): T => {
      const a = outcome(() => f(t));
      assert.deepEqual(a, outcome(() => f(ref)));
      if (typeof a === 'string') throw new WeftError(a as 'WEFT-K005');
      return a as T;
    };
    const full = (f: () => unknown, resource: string) =>
      assert.throws(f, (e: WeftError) => e.code === 'WEFT-K005' && e.details.resource === resource);

    // Keys: 255-byte IDs take 264-byte records; the 1 MiB arena holds 3971 of them.
    const long = (i: number) => `${i}.`.padEnd(255, 'k');
    let keys = 0;
    for (;; keys++) {
      try {
        both((x) => x.set(long(keys), [1]));
      } catch {
        break;
      }
    }
    assert.equal(keys, Math.floor(L.keyArenaBytes / 264));
    full(() => t.set(long(keys), [1]), 'keys');
    // Free every other key, then refill until full again: the bump pointer hits the end,
    // compaction runs, and exactly as many keys fit as before.
    for (let i = 0; i < keys; i += 2) both((x) => x.delete(long(i)));
    let next = keys;
    for (;; next++) {
      try {
        both((x) => x.set(long(next), [next % 5, 1]));
      } catch {
        break;
      }
    }
    assert.equal(t.size, keys);
    for (let i = 0; i < next; i += 3) {
      both((x) => x.find(long(i)));
      both((x) => x.pick(long(i), i * 2654435761));
    }
    full(() => t.set(long(next), [1]), 'keys');
    both((x) => x.clear());

    // Endpoints: big routes until the endpoint arena is full, churn, compaction.
    const big = (i: number, n: number) => Array.from({ length: n }, (_, j) => ((i * 31 + j) % 7) + (j === 0 ? 0 : 1));
    both((x) => x.set('e0.m.ns', big(0, L.maxEndpointsPerService)));
    let routes = 1;
    for (;; routes++) {
      try {
        both((x) => x.set(`e${routes}.m.ns`, big(routes, 3000)));
      } catch {
        break;
      }
    }
    full(() => t.set(`e${routes}.m.ns`, big(routes, 3000)), 'endpoints');
    full(() => t.set('e1.m.ns', big(1, 9000)), 'endpoints'); // a replace that would not fit keeps the old endpoints
    assert.equal(t.endpointCount('e1.m.ns'), 3000);
    both((x) => x.delete('e0.m.ns'));
    for (let i = 1; i < routes; i += 2) both((x) => x.set(`e${i}.m.ns`, big(i + 1, 2000)));
    for (let i = 100; i < 120; i++) both((x) => x.set(`e${i}.m.ns`, big(i, 2500)));
    for (let i = 1; i < 120; i++) for (const r of [0, 1 << 30, 0xffffffff, i * 40503]) both((x) => x.pick(`e${i}.m.ns`, r));

    // Maglev: M = 65537 records take 131,096 bytes; 4 MiB holds 31.
    both((x) => x.clear());
    for (let i = 0; i < 40; i++) both((x) => x.set(`g${i}.m.ns`, [1, 2]));
    let tables = 0;
    for (; tables < 40; tables++) {
      try {
        both((x) => x.setMaglev(`g${tables}.m.ns`, namesFor(2, tables), 65537));
      } catch {
        break;
      }
    }
    assert.equal(tables, 31);
    full(() => t.setMaglev(`g${tables}.m.ns`, namesFor(2, tables), 65537), 'maglev');
    for (let i = 0; i < 31; i += 2) both((x) => x.delete(`g${i}.m.ns`));
    for (let i = 31; i < 40; i++) both((x) => x.setMaglev(`g${i}.m.ns`, namesFor(2, i + 100), 65537));
    for (let i = 0; i < 40; i++) {
      const a = t.maglevTable(`g${i}.m.ns`);
      const b = ref.maglevTable(`g${i}.m.ns`);
      assert.deepEqual(a, b, `Maglev table g${i} after compaction`);
    }
  });

  test(`${variant}: IDs of 0 or over 255 bytes are rejected, UTF-8 IDs match their bytes`, () => {
    const t = table(variant, 16);
    for (const bad of ['', new Uint8Array(0), 'x'.repeat(256), new Uint8Array(256), 'é'.repeat(128)]) {
      assert.throws(() => t.set(bad, [1]), (e: WeftError) => e.code === 'WEFT-K003');
      assert.equal(t.find(bad), -1);
      assert.equal(t.delete(bad), false);
      assert.equal(t.pick(bad, 1), -1);
      assert.equal(t.pickConsistent(bad, 1), -1);
    }
    assert.equal(t.size, 0);
    const r = t.set('é'.repeat(127), [1]); // 254 bytes of UTF-8
    assert.equal(t.find(utf8.encode('é'.repeat(127))), r);
    assert.equal(t.find('x'.repeat(255)), -1);
    t.set(new Uint8Array(255).fill(0xff), [1]);
    assert.equal(t.find(new Uint8Array(255).fill(0xff)), 1);
    assert.throws(() => t.set('a.b.c', [-1]), (e: WeftError) => e.code === 'WEFT-K003');
    assert.throws(() => t.set('a.b.c', [1.5]), (e: WeftError) => e.code === 'WEFT-K003');
    assert.throws(() => t.set('a.b.c', [2 ** 32]), (e: WeftError) => e.code === 'WEFT-K003');
    assert.throws(() => t.set('a.b.c', new Array(65536).fill(1)), (e: WeftError) => e.code === 'WEFT-K003');
    assert.throws(() => t.setMaglev('nope.m.ns', []), (e: WeftError) => e.code === 'WEFT-K003');
    t.set('a.b.c', [1, 1]);
    assert.throws(() => t.setMaglev('a.b.c', ['one']), (e: WeftError) => e.code === 'WEFT-K003');
    assert.throws(() => t.setMaglev('a.b.c', ['one', 'two'], 250), (e: WeftError) => e.code === 'WEFT-K003');
    assert.throws(() => t.setMaglev('a.b.c', ['one', 'x'.repeat(256)]), (e: WeftError) => e.code === 'WEFT-K003');
    assert.equal(t.maglevTable('a.b.c'), null);
  });

  test(`${variant}: batches larger than the kernel buffers, truncated tails, zero lengths`, () => {
    const t = table(variant, 16384);
    const ref = new ServiceTableReference();
    const ids = Array.from({ length: 12000 }, (_, i) => `svc-${i}.meshlet-${i % 97}.namespace`);
    for (let i = 0; i < ids.length; i += 2) assert.equal(t.set(ids[i]!, [1]), ref.set(ids[i]!, [1]));
    const packed = packServiceIds(ids); // ~400 KB: several kernel chunks
    assert.ok(packed.length > 65536 * 4);
    const out = new Int32Array(ids.length + 5);
    const expected = new Int32Array(ids.length + 5);
    assert.equal(t.findBatchInto(packed, out), ids.length);
    assert.equal(ref.findBatchInto(packed, expected), ids.length);
    assert.deepEqual(out, expected);
    for (let i = 0; i < ids.length; i++) assert.equal(out[i], i % 2 === 0 ? t.find(ids[i]!) : -1);
    // out shorter than the batch: stops when full.
    const few = new Int32Array(7);
    assert.equal(t.findBatchInto(packed, few), 7);
    assert.deepEqual(few, out.subarray(0, 7));
    // A truncated last record is not looked up; a zero length gives -1.
    const odd = new Uint8Array([5, ...utf8.encode(ids[0]!.slice(0, 5)), 0, ids[0]!.length, ...utf8.encode(ids[0]!), 9, 1, 2]);
    const o = new Int32Array(8);
    const e = new Int32Array(8);
    assert.equal(t.findBatchInto(odd, o), 3);
    assert.equal(ref.findBatchInto(odd, e), 3);
    assert.deepEqual(o, e);
    assert.deepEqual(Array.from(o.subarray(0, 3)), [-1, -1, t.find(ids[0]!)]);
    assert.equal(t.findBatchInto(new Uint8Array(0), o), 0);
  });

  test(`${variant}: weighted picks follow the weights (200k seeded draws, 5 sigma)`, () => {
    const t = table(variant, 4);
    const weights = [1, 0, 3, 6, 0, 10];
    const total = weights.reduce((a, b) => a + b);
    t.set('canary.m.ns', weights);
    const draws = 200_000;
    const counts = new Array<number>(weights.length).fill(0);
    const next = rng(42);
    for (let i = 0; i < draws; i++) counts[t.pick('canary.m.ns', next())]!++;
    assert.equal(counts.reduce((x, y) => x + y), draws);
    for (const [i, w] of weights.entries()) {
      const p = w / total;
      const sigma = Math.sqrt(draws * p * (1 - p));
      assert.ok(Math.abs(counts[i]! - draws * p) <= 5 * sigma + (w === 0 ? 0 : 1), `endpoint ${i}: ${counts[i]} of ${draws}, expected ${draws * p}`);
    }
    // Huge weights (sum far over 2^32) against the BigInt reference at the interval edges.
    const ref = new ServiceTableReference({ capacity: 4 });
    const hugeArb = fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(hugeArb, fc.integer({ min: 0, max: 0xffffffff }), (w, r) => {
        t.set('big.m.ns', w);
        ref.set('big.m.ns', w);
        for (const x of [r, 0, 0xffffffff, r ^ 1]) assert.equal(t.pick('big.m.ns', x), ref.pick('big.m.ns', x));
      }),
      { numRuns: 300 },
    );
    t.set('zero.m.ns', [0, 0, 0]);
    assert.equal(t.pick('zero.m.ns', 123), -1);
    t.set('none.m.ns', []);
    assert.equal(t.pick('none.m.ns', 123), -1);
  });

  test(`${variant}: separate tables do not interfere; memory never grows, even under hostile kernel calls`, () => {
    const a = new ServiceTable({ variant, capacity: 4 });
    const b = new ServiceTable({ variant, capacity: 4 });
    const before = a.memoryBytes;
    a.set('a.m.ns', [1]);
    b.set('b.m.ns', [1, 1]);
    for (let i = 0; i < 3; i++) b.set(`x${i}`, [1]);
    assert.equal(a.find('b.m.ns'), -1);
    assert.equal(b.find('a.m.ns'), -1);
    assert.throws(() => b.set('more', [1]), (e: WeftError) => e.code === 'WEFT-K005');
    a.set('more', [1]);
    b.clear();
    assert.equal(a.size, 2);
    // Call the kernel's exports directly with out-of-range arguments: error codes, no trap.
    const k = (a as unknown as { k: Record<string, (...args: number[]) => number> }).k;
    const huge = [0, 1, 255, 256, 65535, 65536, 0x7fffffff, 0xffffffff, -1];
    for (const x of huge) {
      for (const y of huge) {
        k.set!(x, y);
        k.find!(x);
        k.pick!(x, y);
        k.pick_route!(x, y);
        k.pick_consistent!(x, y);
        k.pick_consistent_route!(x, y);
        k.find_batch!(x, y);
        k.maglev_stage!(x, y, 65536);
        k.maglev_stage!(0, x, y);
        k.maglev_set!(x, y, 251);
        k.maglev_set!(0, x, y);
        k.maglev_entries!(x, y);
        k.route_endpoints!(x);
        k.hash_key_io!(x, y);
        k.remove!(x);
      }
    }
    assert.equal(k.init!(0, 0), -6);
    assert.equal(k.init!(16385, 0), -6);
    assert.equal(a.memoryBytes, before);
    assert.equal(b.memoryBytes, before);
  });
}

// Maglev tables of the service table kernel: identical to the paper's pseudocode
// (src/kernel/maglev-reference.ts), balanced, minimally disrupted when an endpoint goes,
// and consistent picks that follow the table through set() and delete().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ServiceTable, MAGLEV_TABLE_SIZES, defaultMaglevSize } from '../../src/kernel/service-table.js';
import { maglevPopulate } from '../../src/kernel/maglev-reference.js';
import { simdSupported, type KernelVariant } from '../../src/kernel/load.js';

const variants: KernelVariant[] = simdSupported() ? ['simd', 'scalar'] : ['scalar'];
const utf8 = new TextEncoder();
const endpointNames = (n: number, salt = 0) => Array.from({ length: n }, (_, i) => `10.${salt}.${i >> 8}.${i & 255}:443`);

/** Entries per endpoint index. */
function counts(table: Int32Array, n: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (const e of table) if (e >= 0) c[e]!++;
  return c;
}

test('default table sizes keep M >= 100 N up to the largest', () => {
  assert.equal(defaultMaglevSize(1), 251);
  assert.equal(defaultMaglevSize(3), 509);
  assert.equal(defaultMaglevSize(20), 2039);
  assert.equal(defaultMaglevSize(655), 65521);
  assert.equal(defaultMaglevSize(5000), 65537);
  for (let n = 1; n < 700; n++) assert.ok(defaultMaglevSize(n) >= 100 * n || defaultMaglevSize(n) === 65537);
});

for (const variant of variants) {
  const t = new ServiceTable({ variant, capacity: 8 });

  test(`${variant}: tables equal the paper's pseudocode for random names, weights and sizes`, () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.constantFrom(0, 1, 1, 5, 0xffffffff), { minLength: 40, maxLength: 40 }),
        fc.constantFrom(251, 509, 1021, 2039, 4093, 65537),
        (names, w, m) => {
          const weights = w.slice(0, names.length);
          t.set('svc.m.ns', weights);
          t.setMaglev('svc.m.ns', names, m);
          const expected = maglevPopulate(names.map((s) => utf8.encode(s)), m, (i) => weights[i]! > 0);
          assert.deepEqual(t.maglevTable('svc.m.ns'), expected);
          for (const h of [0, 1, m - 1, m, 0xffffffff, 123456789]) assert.equal(t.pickConsistent('svc.m.ns', h), expected[(h >>> 0) % m]);
        },
      ),
      { numRuns: 120 },
    );
  });

  test(`${variant}: balance: every endpoint gets floor(M/N) or ceil(M/N) entries`, () => {
    for (const [n, m] of [[1, 251], [2, 251], [3, 509], [7, 2039], [10, 1021], [100, 16381], [1000, 65537], [251, 251], [300, 251]] as const) {
      t.set('bal.m.ns', new Array(n).fill(1));
      t.setMaglev('bal.m.ns', endpointNames(n), m);
      const c = counts(t.maglevTable('bal.m.ns')!, n);
      assert.equal(c.reduce((a, b) => a + b), m, 'every entry is taken');
      // With N > M the round robin ends inside its first round: M endpoints get one entry.
      for (const x of c) assert.ok(x === Math.floor(m / n) || x === Math.ceil(m / n), `N=${n} M=${m}: ${x} entries`);
    }
  });

  test(`${variant}: minimal disruption: removing or draining one endpoint moves few other entries`, () => {
    // Measured worst cases over the first 20 endpoints: 7.6% (N=10, M=251), 2.1% (10, 2039),
    // 1.5% (100, 16381), 0.7% (100, 65537), 0.6% (1000, 65537). Bounds leave some margin.
    const cases = [
      [10, 251, 0.1],
      [10, 2039, 0.03],
      [100, 16381, 0.02],
      [1000, 65537, 0.01],
    ] as const;
    for (const [n, m, bound] of cases) {
      const names = endpointNames(n, 1);
      for (let k = 0; k < Math.min(n, 12); k++) {
        t.set('dis.m.ns', new Array(n).fill(1));
        t.setMaglev('dis.m.ns', names, m);
        const before = t.maglevTable('dis.m.ns')!;
        // Drain k (weight 0): set() with the same count rebuilds the table without it.
        const w = new Array(n).fill(1);
        w[k] = 0;
        t.set('dis.m.ns', w);
        const drained = t.maglevTable('dis.m.ns')!;
        // Remove k from the list: indices shift, so compare by name.
        const rest = names.filter((_, i) => i !== k);
        t.set('dis.m.ns', new Array(n - 1).fill(1));
        assert.equal(t.maglevTable('dis.m.ns'), null, 'a new endpoint count drops the old table');
        t.setMaglev('dis.m.ns', rest, m);
        const removed = t.maglevTable('dis.m.ns')!;
        let others = 0;
        let moved = 0;
        for (let j = 0; j < m; j++) {
          assert.notEqual(drained[j], k, 'a drained endpoint owns no entry');
          assert.equal(rest[removed[j]!], names[drained[j]!], 'draining and removing give the same table');
          if (before[j] === k) continue;
          others++;
          if (drained[j] !== before[j]) moved++;
        }
        assert.ok(moved / others <= bound, `N=${n} M=${m} remove ${k}: ${((100 * moved) / others).toFixed(2)}% of other entries moved`);
        assert.ok(moved > 0 || n <= 2, 'some entries move: the check is not vacuous');
      }
    }
  });

  test(`${variant}: consistent picks follow the table, and stop with the service or its endpoints`, () => {
    t.clear();
    assert.equal(t.pickConsistent('c.m.ns', 1), -1);
    const route = t.set('c.m.ns', [1, 1, 1]);
    assert.equal(t.pickConsistent('c.m.ns', 1), -1, 'no table yet');
    t.setMaglev('c.m.ns', ['a', 'b', 'c']);
    const table = t.maglevTable('c.m.ns')!;
    assert.equal(table.length, defaultMaglevSize(3));
    for (let h = 0; h < 3000; h += 7) {
      assert.equal(t.pickConsistent('c.m.ns', h), table[h % table.length]);
      assert.equal(t.pickConsistentRoute(route, h), table[h % table.length]);
    }
    t.set('c.m.ns', [0, 0, 0]);
    assert.equal(t.pickConsistent('c.m.ns', 5), -1, 'no endpoint with weight');
    t.set('c.m.ns', [1, 1, 1]);
    assert.deepEqual(t.maglevTable('c.m.ns'), table, 'restoring the weights restores the table');
    for (const m of MAGLEV_TABLE_SIZES) {
      t.setMaglev('c.m.ns', ['a', 'b', 'c'], m);
      assert.equal(t.maglevTable('c.m.ns')!.length, m);
    }
    t.delete('c.m.ns');
    assert.equal(t.pickConsistent('c.m.ns', 5), -1);
    assert.equal(t.pickConsistentRoute(route, 5), -1);
    t.set('c.m.ns', [1, 1, 1]);
    assert.equal(t.maglevTable('c.m.ns'), null, 'a re-added service starts without a table');
  });

  test(`${variant}: names are staged in chunks: 65,535 endpoints with long names`, () => {
    const n = 65535;
    const names = Array.from({ length: n }, (_, i) => `endpoint-${i}.`.padEnd(60, 'x'));
    t.set('wide.m.ns', new Array(n).fill(1));
    t.setMaglev('wide.m.ns', names, 65537);
    const table = t.maglevTable('wide.m.ns')!;
    const expected = maglevPopulate(names.map((s) => utf8.encode(s)), 65537);
    assert.deepEqual(table, expected);
    const c = counts(table, n);
    for (const x of c) assert.ok(x === 1 || x === 2);
  });
}

// The worker pool and the inline/pool dispatcher give byte-identical results to
// the inline kernel, in both transports, with AAD, with tampered records, and
// with records split across shards at any point.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { KernelPool } from '../../src/kernel/pool.js';
import { AeadDispatcher } from '../../src/kernel/dispatch.js';
import { aeadKernel, AEAD_AUTH_FAILED } from '../../src/kernel/aead.js';
import { WeftError } from '../../src/errors.js';

const pool = new KernelPool({ threads: 2 });
after(() => pool.close());

function batch(lengths: number[], withAad: boolean) {
  const lens = Uint32Array.from(lengths);
  const total = lengths.reduce((a, b) => a + b, 0);
  const aadLengths = withAad ? Uint32Array.from(lengths.map((_, i) => i % 5)) : undefined;
  const aad = aadLengths ? randomBytes(aadLengths.reduce((a, b) => a + b, 0)) : undefined;
  return { lens, records: new Uint8Array(randomBytes(total)), total, aad, aadLengths };
}

function sealedLengthsOf(lens: Uint32Array): Uint32Array {
  return lens.map((l) => l + 16);
}

for (const transport of ['shared', 'transfer'] as const) {
  test(`pool (${transport}) seals and opens exactly like the inline kernel`, async () => {
    const dispatcher = new AeadDispatcher({ pool, transport, inlineBelowBytes: 0 });
    const kernel = aeadKernel();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        fc.bigInt({ min: 0n, max: 2n ** 40n }),
        async (lengths, withAad, counter) => {
          const key = randomBytes(32), nonceBase = randomBytes(12);
          const { lens, records, total, aad, aadLengths } = batch(lengths, withAad);
          const expected = new Uint8Array(total + 16 * lens.length);
          kernel.sealRecords(key, nonceBase, counter, records, lens, expected, aad, aadLengths);
          const sealed = new Uint8Array(expected.length);
          const written = await dispatcher.sealRecords(key, nonceBase, counter, records, lens, sealed, aad, aadLengths);
          assert.equal(written, expected.length);
          assert.deepEqual(sealed, expected);
          const plain = new Uint8Array(total), results = new Int32Array(lens.length);
          const failed = await dispatcher.openRecords(key, nonceBase, counter, sealed, sealedLengthsOf(lens), plain, results, aad, aadLengths);
          assert.equal(failed, 0);
          assert.deepEqual(plain, records);
          assert.deepEqual([...results], [...lens]);
        },
      ),
      { numRuns: 25 },
    );
  });

  test(`pool (${transport}) releases no plaintext of a tampered record`, async () => {
    const dispatcher = new AeadDispatcher({ pool, transport, inlineBelowBytes: 0 });
    const key = randomBytes(32), nonceBase = randomBytes(12);
    const { lens, records, total } = batch(Array.from({ length: 16 }, () => 1024), false);
    const sealed = new Uint8Array(total + 16 * lens.length);
    await dispatcher.sealRecords(key, nonceBase, 0n, records, lens, sealed);
    sealed[3 * 1040 + 100]! ^= 1; // record 3's ciphertext
    sealed[12 * 1040 + 1030]! ^= 0x80; // record 12's tag
    const plain = new Uint8Array(total).fill(0xee), results = new Int32Array(lens.length);
    const failed = await dispatcher.openRecords(key, nonceBase, 0n, sealed, sealedLengthsOf(lens), plain, results);
    assert.equal(failed, 2);
    for (let i = 0; i < lens.length; i++) {
      const slice = plain.subarray(i * 1024, (i + 1) * 1024);
      if (i === 3 || i === 12) {
        assert.equal(results[i], AEAD_AUTH_FAILED);
        assert.ok(slice.every((b) => b === 0xee), `record ${i}: nothing released`);
      } else {
        assert.equal(results[i], 1024);
        assert.deepEqual(slice, records.subarray(i * 1024, (i + 1) * 1024));
      }
    }
  });
}

test('shared transport works in place on SharedArrayBuffer views (zero copy)', async () => {
  const dispatcher = new AeadDispatcher({ pool, transport: 'shared', inlineBelowBytes: 0 });
  const key = randomBytes(32), nonceBase = randomBytes(12);
  const lens = new Uint32Array(64).fill(4096);
  const records = new Uint8Array(new SharedArrayBuffer(64 * 4096));
  records.set(randomBytes(records.length));
  const sealed = new Uint8Array(new SharedArrayBuffer(64 * 4112));
  await dispatcher.sealRecords(key, nonceBase, 7n, records, lens, sealed);
  const expected = new Uint8Array(sealed.length);
  aeadKernel().sealRecords(key, nonceBase, 7n, records, lens, expected);
  assert.deepEqual(new Uint8Array(sealed), expected);
});

test('the dispatcher keeps small batches inline and sends large ones to the pool', () => {
  const dispatcher = new AeadDispatcher({ pool, inlineBelowBytes: 64 * 1024 });
  assert.equal(dispatcher.placement(1024), 'inline');
  assert.equal(dispatcher.placement(64 * 1024), 'pool');
  assert.equal(new AeadDispatcher({}).placement(1 << 30), 'inline', 'without a pool everything is inline');
});

test('a failing pool task surfaces as WEFT-K006', async () => {
  await assert.rejects(pool.run({ op: 'nope' } as never), (err: unknown) => err instanceof WeftError && err.code === 'WEFT-K006');
  // The pool still works afterwards.
  assert.equal(await pool.run<number>({ op: 'ping' }), 0);
});

test('records shorter than a tag fail alone and do not shift the others', async () => {
  const dispatcher = new AeadDispatcher({ pool, transport: 'shared', inlineBelowBytes: 0 });
  const key = randomBytes(32), nonceBase = randomBytes(12);
  const { lens, records, total } = batch([500, 700, 900, 300], false);
  const sealed = new Uint8Array(total + 64);
  await dispatcher.sealRecords(key, nonceBase, 0n, records, lens, sealed);
  // Insert a 5-byte bogus record between the first and the second.
  const hostile = new Uint8Array(sealed.length + 5);
  hostile.set(sealed.subarray(0, 516));
  hostile.set(sealed.subarray(516), 521);
  const sealedLengths = Uint32Array.from([516, 5, 716, 916, 316]);
  const plain = new Uint8Array(total), results = new Int32Array(5);
  // Counter of the bogus record is 1, so the later records are opened with counters 2..4: they fail too.
  const failed = await dispatcher.openRecords(key, nonceBase, 0n, hostile, sealedLengths, plain, results);
  assert.equal(results[0], 500);
  assert.ok(results[1]! < 0, 'a record shorter than its tag is an error, not a crash');
  assert.equal(failed, 4);
  assert.deepEqual(plain.subarray(0, 500), records.subarray(0, 500));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RecordSealer, RecordOpener, RecordError } from '../../src/tunnel/record.js';
import { MAX_RECORD_PLAINTEXT, MAX_RECORD_SEALED, RECORD_FLAG_KEY_UPDATE } from '../../src/tunnel/options.js';
import { aeadKernel } from '../../src/kernel/aead.js';

const policy = { afterRecords: 1 << 20, afterMs: 1e12 };

function pair(p = policy) {
  const key = randomBytes(32);
  return { sealer: new RecordSealer(key, p, 0), opener: new RecordOpener(key) };
}

function openAll(opener: RecordOpener, bytes: Buffer, chunkSizes: () => number): { plains: Buffer[]; ok: boolean } {
  const plains: Buffer[] = [];
  let ok = true;
  for (let at = 0; at < bytes.length && ok; ) {
    const n = Math.min(bytes.length - at, chunkSizes());
    ok = opener.feed(bytes.subarray(at, at + n), (p) => (plains.push(Buffer.from(p)), true));
    at += n;
  }
  return { plains, ok };
}

test('records round-trip whatever the chunking, and the kernel memory does not grow', () => {
  const before = aeadKernel().memoryBytes();
  for (const chunk of [1, 3, 4, 5, 17, 1000, 1 << 20]) {
    const { sealer, opener } = pair();
    const plains = [1, 100, MAX_RECORD_PLAINTEXT, 4096, 7].map((n) => randomBytes(n));
    const wire = Buffer.concat(plains.map((p) => sealer.seal(p)));
    const r = openAll(opener, wire, () => chunk);
    assert.ok(r.ok);
    assert.deepEqual(r.plains, plains);
    assert.equal(opener.records, plains.length);
    assert.equal(opener.buffered, 0);
  }
  assert.equal(aeadKernel().memoryBytes(), before);
});

test('a flipped bit anywhere (header, ciphertext, tag) stops the opener', () => {
  for (let trial = 0; trial < 50; trial++) {
    const { sealer, opener } = pair();
    const rec = sealer.seal(randomBytes(200));
    const i = Math.floor(Math.random() * rec.length);
    rec[i]! ^= 1 << Math.floor(Math.random() * 8);
    const r = openAll(opener, rec, () => 64);
    assert.equal(r.plains.length, 0);
    if (r.ok) {
      // A longer length: the opener waits for the rest (bounded), and fails once it comes.
      assert.ok(i < 2 && opener.buffered > 0 && opener.buffered <= MAX_RECORD_SEALED);
      assert.equal(opener.feed(Buffer.alloc(MAX_RECORD_SEALED), () => true), false);
    }
    assert.ok([RecordError.AUTH_FAILED, RecordError.BAD_HEADER, RecordError.BAD_LENGTH].includes(opener.error));
    if (i >= 4) assert.equal(opener.error, RecordError.AUTH_FAILED);
  }
});

test('replayed, reordered or dropped records fail their tag (strict counter)', () => {
  const cases: [string, number[], number][] = [
    ['replay', [0, 0], 1],
    ['reorder', [1, 0], 0],
    ['drop', [0, 2], 1],
  ];
  for (const [name, order, good] of cases) {
    const key = randomBytes(32);
    const sealer = new RecordSealer(key, policy, 0);
    const recs = [0, 1, 2].map((i) => sealer.seal(Buffer.from(`record ${i}`)));
    const opener = new RecordOpener(key);
    const r = openAll(opener, Buffer.concat(order.map((i) => recs[i]!)), () => 1 << 20);
    assert.equal(r.ok, false, name);
    assert.equal(r.plains.length, good, name);
    assert.equal(opener.error, RecordError.AUTH_FAILED, name);
  }
});

test('headers out of bounds are refused before any body is buffered', () => {
  const bad = [
    Buffer.from([0xff, 0xff, 0, 0]), // over MAX_RECORD_SEALED
    Buffer.from([(MAX_RECORD_SEALED + 1) >> 8, (MAX_RECORD_SEALED + 1) & 0xff, 0, 0]),
    Buffer.from([0, 15, 0, 0]), // shorter than a tag
    Buffer.from([0, 16, 0, 0]), // empty without KEY_UPDATE
    Buffer.from([0, 40, 0x02, 0]), // unknown flag
    Buffer.from([0, 40, 0, 1]), // reserved byte
  ];
  for (const h of bad) {
    const { opener } = pair();
    assert.equal(opener.feed(Buffer.concat([h, Buffer.alloc(100)]), () => true), false);
    assert.ok(opener.error === RecordError.BAD_LENGTH || opener.error === RecordError.BAD_HEADER);
    assert.equal(opener.buffered, 0);
  }
});

test('rekey: KEY_UPDATE after the configured count, both sides follow, old keys stop working', () => {
  const { sealer, opener } = pair({ afterRecords: 3, afterMs: 1e12 });
  const plains = Array.from({ length: 10 }, (_, i) => Buffer.from(`message ${i}`));
  const recs = plains.map((p) => sealer.seal(p));
  assert.equal(sealer.rekeys, 3);
  assert.deepEqual(recs.map((r) => (r[2]! & RECORD_FLAG_KEY_UPDATE) !== 0), [false, false, true, false, false, true, false, false, true, false]);
  const r = openAll(opener, Buffer.concat(recs), () => 50);
  assert.ok(r.ok);
  assert.deepEqual(r.plains, plains);
  assert.equal(opener.rekeys, 3);
  // Time-based: a deadline in the past forces KEY_UPDATE on the next record.
  const t = pair({ afterRecords: 1 << 20, afterMs: 10 });
  t.sealer.seal(Buffer.from('a'), 0);
  const rec = t.sealer.seal(Buffer.from('b'), 11);
  assert.equal(rec[2], RECORD_FLAG_KEY_UPDATE);
});

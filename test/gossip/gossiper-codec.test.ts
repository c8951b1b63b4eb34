import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteReader, ByteWriter } from '../../src/gossip/codec.js';

test('codec: fields round-trip', () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), fc.string(), fc.uint8Array({ maxLength: 100 }), fc.double(), fc.integer({ min: 0, max: 255 }), (n, s, b, f, u) => {
      const bytes = new ByteWriter(1).varuint(n).string(s).bytes(b).f64(f).u8(u).finish();
      const r = new ByteReader(bytes);
      assert.equal(r.varuint(), n);
      assert.equal(r.string(1 << 20), s);
      assert.deepEqual(r.bytes(), b);
      assert.ok(Object.is(r.f64(), f));
      assert.equal(r.u8(), u);
      return r.done;
    }),
  );
});

test('codec: the reader never throws or reads past the end, and reports failure', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (junk) => {
      const r = new ByteReader(junk);
      r.varuint();
      r.string();
      r.bytes(16);
      r.count(4);
      r.f64();
      r.u8();
      assert.ok(r.offset <= junk.length);
      return r.ok || r.remaining === 0;
    }),
  );
  const r = new ByteReader(new Uint8Array([0x80, 0x80])); // unterminated varint
  r.varuint();
  assert.equal(r.ok, false);
  const long = new ByteReader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])); // > 2^53
  long.varuint();
  assert.equal(long.ok, false);
  const badUtf8 = new ByteReader(new Uint8Array([2, 0xc3, 0x28]));
  assert.equal(badUtf8.string(), '');
  assert.equal(badUtf8.ok, false);
  const tooLong = new ByteReader(new ByteWriter().string('abcdef').finish());
  tooLong.string(3);
  assert.equal(tooLong.ok, false);
  const count = new ByteReader(new Uint8Array([100, 1, 2]));
  assert.equal(count.count(1), 0, 'a count larger than the bytes left fails');
  assert.equal(count.ok, false);
  assert.throws(() => new ByteWriter().varuint(-1), RangeError);
});

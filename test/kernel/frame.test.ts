// Frame codec: both kernel variants against the plain-TypeScript reference on random
// valid sequences, cuts, mutations and random bytes; every decoder error; round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DEFAULT_MAX_FRAME_SIZE,
  FRAME_HEADER_SIZE,
  FrameFlag,
  FrameKernel,
  FrameStatus,
  FrameTable,
  FrameType,
  MAX_FRAME_SIZE_HARD_CAP,
  MAX_STREAM_ID,
  decodeFrames,
  encodeFrame,
  encodeFrameHeaderInto,
  frameHeaderError,
} from '../../src/kernel/frame.js';
import {
  decodeFramesReference,
  encodeFrameHeaderReference,
  encodeFrameHeadersReference,
  frameHeaderErrorReference,
} from '../../src/kernel/frame-reference.js';
import { simdSupported, type KernelVariant } from '../../src/kernel/load.js';
import { WeftError } from '../../src/errors.js';

const variants: KernelVariant[] = simdSupported() ? ['simd', 'scalar'] : ['scalar'];
const kernels = variants.map((v) => FrameKernel.load(v));

interface Spec {
  type: number;
  flags: number;
  streamId: number;
  length: number;
}

const streamNonzero = fc.integer({ min: 1, max: MAX_STREAM_ID });
const anyStream = fc.integer({ min: 0, max: MAX_STREAM_ID });
function specArb(maxData: number): fc.Arbitrary<Spec> {
  const fixed = (type: number, stream: fc.Arbitrary<number>, length: number) =>
    fc.record({ type: fc.constant(type), flags: fc.constant(0), streamId: stream, length: fc.constant(length) });
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ type: fc.constant(FrameType.DATA), flags: fc.constantFrom(0, FrameFlag.FIN), streamId: streamNonzero, length: fc.integer({ min: 1, max: maxData }) }) },
    fc.record({ type: fc.constant(FrameType.OPEN), flags: fc.constant(0), streamId: streamNonzero, length: fc.integer({ min: 4, max: 512 }) }),
    fixed(FrameType.WINDOW_UPDATE, anyStream, 4),
    fixed(FrameType.FIN, streamNonzero, 0),
    fixed(FrameType.RST, streamNonzero, 4),
    fixed(FrameType.PING, fc.constant(0), 8),
    fixed(FrameType.PONG, fc.constant(0), 8),
    fixed(FrameType.GOAWAY, fc.constant(0), 8),
    fc.record({ type: fc.integer({ min: 0x80, max: 0xff }), flags: fc.integer({ min: 0, max: 255 }), streamId: anyStream, length: fc.integer({ min: 0, max: 600 }) }),
  );
}

/** Header + payload for each spec, with the reference encoder. */
function build(specs: Spec[], lead = 0): Uint8Array {
  const total = lead + specs.reduce((n, s) => n + FRAME_HEADER_SIZE + s.length, 0);
  const out = new Uint8Array(total);
  let at = lead;
  for (const [i, s] of specs.entries()) {
    at = encodeFrameHeaderReference(out, at, s.type, s.flags, s.streamId, s.length, MAX_FRAME_SIZE_HARD_CAP);
    for (let j = 0; j < s.length; j++) out[at + j] = (i * 31 + j) & 0xff;
    at += s.length;
  }
  return out;
}

/** Decodes with every implementation, asserts they agree, returns the reference outcome. */
function decodeAll(buf: Uint8Array, offset: number, maxFrame: number, capacity = 8192) {
  const refTable = new FrameTable(capacity);
  const ref = { ...decodeFramesReference(buf, offset, maxFrame, refTable) };
  const refWords = Array.from(refTable.words.subarray(0, ref.frames * 4));
  for (const k of kernels) {
    const t = new FrameTable(capacity);
    const r = k.decodeFramesInto(buf, offset, maxFrame, t);
    assert.deepEqual({ ...r }, ref, `${k.variant} result`);
    assert.equal(t.count, ref.frames);
    assert.deepEqual(Array.from(t.words.subarray(0, r.frames * 4)), refWords, `${k.variant} table`);
    if (capacity === k.tableCapacity) {
      // The kernel-owned table: same entries, written in place.
      const own = k.decodeFramesInto(buf, offset, maxFrame, k.table);
      assert.deepEqual({ ...own }, ref, `${k.variant} kernel table result`);
      assert.deepEqual(Array.from(k.table.words.subarray(0, own.frames * 4)), refWords, `${k.variant} kernel table`);
    }
  }
  return { ref, table: refTable };
}

test('round trip: random valid frames encode identically and decode back to themselves', () => {
  fc.assert(
    fc.property(fc.array(specArb(3000), { minLength: 0, maxLength: 40 }), fc.integer({ min: 0, max: 20 }), (specs, lead) => {
      const buf = build(specs, lead);
      const { ref, table } = decodeAll(buf, lead, DEFAULT_MAX_FRAME_SIZE);
      assert.equal(ref.status, FrameStatus.OK);
      assert.equal(ref.frames, specs.length);
      assert.equal(ref.consumed, buf.length - lead);
      let at = lead;
      for (const [i, s] of specs.entries()) {
        assert.deepEqual([table.type(i), table.flags(i), table.streamId(i), table.payloadLength(i), table.payloadOffset(i)], [s.type, s.flags, s.streamId, s.length, at + FRAME_HEADER_SIZE]);
        at += FRAME_HEADER_SIZE + s.length;
      }
      // Batch header encode: kernels and reference produce the same packed headers.
      const expected = new Uint8Array(specs.length * FRAME_HEADER_SIZE);
      encodeFrameHeadersReference(table, 0, specs.length, expected, 0, DEFAULT_MAX_FRAME_SIZE);
      for (const [i, s] of specs.entries()) {
        const single = new Uint8Array(FRAME_HEADER_SIZE);
        encodeFrameHeaderInto(single, 0, s.type, s.flags, s.streamId, s.length, DEFAULT_MAX_FRAME_SIZE);
        assert.deepEqual(single, expected.subarray(i * 9, i * 9 + 9));
      }
      for (const k of kernels) {
        const out = new Uint8Array(specs.length * FRAME_HEADER_SIZE + 3);
        assert.equal(k.encodeFrameHeadersInto(table, 0, specs.length, out, 3, DEFAULT_MAX_FRAME_SIZE), specs.length * 9);
        assert.deepEqual(out.subarray(3), expected, `${k.variant} packed headers`);
        // From the kernel-owned table (entries read in place).
        k.table.words.set(table.words.subarray(0, specs.length * 4));
        const own = new Uint8Array(specs.length * FRAME_HEADER_SIZE);
        k.encodeFrameHeadersInto(k.table, 0, specs.length, own, 0, DEFAULT_MAX_FRAME_SIZE);
        assert.deepEqual(own, expected, `${k.variant} packed headers from the kernel table`);
      }
    }),
    { numRuns: 150 },
  );
});

test('random cut points: a partial frame at the end is NEED_MORE with the missing byte count', () => {
  fc.assert(
    fc.property(fc.array(specArb(2000), { minLength: 1, maxLength: 20 }), fc.double({ min: 0, max: 1, noNaN: true }), (specs, where) => {
      const full = build(specs);
      const cut = Math.floor(where * full.length);
      const { ref } = decodeAll(full.subarray(0, cut), 0, DEFAULT_MAX_FRAME_SIZE);
      let ends = 0;
      let whole = 0;
      for (const s of specs) {
        const next = ends + FRAME_HEADER_SIZE + s.length;
        if (next > cut) break;
        ends = next;
        whole++;
      }
      assert.equal(ref.frames, whole);
      assert.equal(ref.consumed, ends);
      if (cut === ends) assert.equal(ref.status, FrameStatus.OK);
      else {
        assert.equal(ref.status, FrameStatus.NEED_MORE);
        const s = specs[whole]!;
        const have = cut - ends;
        assert.equal(ref.needed, have < FRAME_HEADER_SIZE ? FRAME_HEADER_SIZE - have : FRAME_HEADER_SIZE + s.length - have);
      }
    }),
    { numRuns: 200 },
  );
});

test('random bytes and mutated valid sequences: kernels agree with the reference', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.constantFrom(512, 4096, DEFAULT_MAX_FRAME_SIZE), (bytes, maxFrame) => {
      decodeAll(bytes, 0, maxFrame);
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(
      fc.array(specArb(700), { minLength: 1, maxLength: 15 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
      (specs, flips) => {
        const buf = build(specs);
        for (const [at, value] of flips) buf[at % buf.length] = value;
        decodeAll(buf, 0, 1024);
      },
    ),
    { numRuns: 300 },
  );
});

test('large frames and buffers over the kernel window decode the same as the reference', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(specArb(200), fc.record({ type: fc.constant(FrameType.DATA), flags: fc.constant(0), streamId: streamNonzero, length: fc.integer({ min: 10_000, max: 150_000 }) })),
        { minLength: 1, maxLength: 12 },
      ),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (specs, where) => {
        const full = build(specs);
        decodeAll(full, 0, MAX_FRAME_SIZE_HARD_CAP);
        decodeAll(full.subarray(0, Math.floor(where * full.length)), 0, MAX_FRAME_SIZE_HARD_CAP);
        decodeAll(full, 0, 65536); // some frames now too large
      },
    ),
    { numRuns: 40 },
  );
  // Many small frames: more than one window and more than the kernel's table per call.
  const specs: Spec[] = Array.from({ length: 12000 }, (_, i) => ({ type: FrameType.FIN, flags: 0, streamId: i + 1, length: 0 }));
  const many = build(specs);
  const { ref } = decodeAll(many, 0, DEFAULT_MAX_FRAME_SIZE, 20000);
  assert.deepEqual([ref.status, ref.frames], [FrameStatus.OK, 12000]);
  const { ref: full } = decodeAll(many, 0, DEFAULT_MAX_FRAME_SIZE, 10000);
  assert.deepEqual([full.status, full.frames, full.consumed], [FrameStatus.TABLE_FULL, 10000, 90000]);
});

test('a full table stops with TABLE_FULL and decoding resumes from consumed', () => {
  const specs: Spec[] = Array.from({ length: 10 }, (_, i) => ({ type: FrameType.DATA, flags: 0, streamId: i + 1, length: 5 }));
  const buf = build(specs);
  for (const k of kernels) {
    const t = new FrameTable(4);
    let at = 0;
    const seen: number[] = [];
    for (;;) {
      const r = k.decodeFramesInto(buf, at, DEFAULT_MAX_FRAME_SIZE, t);
      for (let i = 0; i < r.frames; i++) seen.push(t.streamId(i));
      at += r.consumed;
      if (r.status !== FrameStatus.TABLE_FULL) {
        assert.equal(r.status, FrameStatus.OK);
        break;
      }
      assert.equal(r.frames, 4);
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  }
});

/** A raw header, bypassing the encoder's checks. */
function rawHeader(type: number, flags: number, streamId: number, length: number): Uint8Array {
  const h = new Uint8Array(FRAME_HEADER_SIZE + Math.min(length, 64));
  const v = new DataView(h.buffer);
  v.setUint8(0, type);
  v.setUint8(1, flags);
  v.setUint32(2, streamId);
  v.setUint8(6, length >>> 16);
  v.setUint16(7, length & 0xffff);
  return h;
}

test('every decoder error, at the offset of the bad frame after good ones', () => {
  const cases: [string, Uint8Array, FrameStatus][] = [
    ['unknown core type 0x08', rawHeader(0x08, 0, 1, 0), FrameStatus.BAD_TYPE],
    ['unknown core type 0x7f', rawHeader(0x7f, 0, 0, 0), FrameStatus.BAD_TYPE],
    ['undefined DATA flag', rawHeader(FrameType.DATA, 0x02, 1, 1), FrameStatus.BAD_FLAGS],
    ['any flag on PING', rawHeader(FrameType.PING, 0x01, 0, 8), FrameStatus.BAD_FLAGS],
    ['reserved stream bit', rawHeader(FrameType.DATA, 0, 0x80000001, 1), FrameStatus.RESERVED_BIT],
    ['reserved bit on an extension', rawHeader(0x90, 0, 0x80000000, 0), FrameStatus.RESERVED_BIT],
    ['length over max frame', rawHeader(FrameType.DATA, 0, 1, DEFAULT_MAX_FRAME_SIZE + 1), FrameStatus.TOO_LARGE],
    ['extension over max frame', rawHeader(0xff, 0xff, 7, DEFAULT_MAX_FRAME_SIZE + 1), FrameStatus.TOO_LARGE],
    ['DATA on stream 0', rawHeader(FrameType.DATA, 0, 0, 1), FrameStatus.BAD_STREAM],
    ['OPEN on stream 0', rawHeader(FrameType.OPEN, 0, 0, 10), FrameStatus.BAD_STREAM],
    ['FIN on stream 0', rawHeader(FrameType.FIN, 0, 0, 0), FrameStatus.BAD_STREAM],
    ['RST on stream 0', rawHeader(FrameType.RST, 0, 0, 4), FrameStatus.BAD_STREAM],
    ['PING on a stream', rawHeader(FrameType.PING, 0, 3, 8), FrameStatus.BAD_STREAM],
    ['GOAWAY on a stream', rawHeader(FrameType.GOAWAY, 0, 3, 8), FrameStatus.BAD_STREAM],
    ['empty DATA', rawHeader(FrameType.DATA, 0, 1, 0), FrameStatus.BAD_LENGTH],
    ['short OPEN', rawHeader(FrameType.OPEN, 0, 1, 3), FrameStatus.BAD_LENGTH],
    ['long OPEN', rawHeader(FrameType.OPEN, 0, 1, 513), FrameStatus.BAD_LENGTH],
    ['WINDOW_UPDATE of 3', rawHeader(FrameType.WINDOW_UPDATE, 0, 0, 3), FrameStatus.BAD_LENGTH],
    ['FIN with payload', rawHeader(FrameType.FIN, 0, 1, 1), FrameStatus.BAD_LENGTH],
    ['RST of 8', rawHeader(FrameType.RST, 0, 1, 8), FrameStatus.BAD_LENGTH],
    ['PING of 7', rawHeader(FrameType.PING, 0, 0, 7), FrameStatus.BAD_LENGTH],
    ['PONG of 9', rawHeader(FrameType.PONG, 0, 0, 9), FrameStatus.BAD_LENGTH],
    ['GOAWAY of 4', rawHeader(FrameType.GOAWAY, 0, 0, 4), FrameStatus.BAD_LENGTH],
  ];
  const good = build([
    { type: FrameType.PING, flags: 0, streamId: 0, length: 8 },
    { type: FrameType.DATA, flags: FrameFlag.FIN, streamId: 5, length: 20 },
  ]);
  for (const [what, bad, status] of cases) {
    const buf = new Uint8Array(good.length + bad.length);
    buf.set(good);
    buf.set(bad, good.length);
    const { ref } = decodeAll(buf, 0, DEFAULT_MAX_FRAME_SIZE);
    assert.equal(ref.status, status, what);
    assert.equal(ref.frames, 2, what);
    assert.equal(ref.consumed, good.length, what);
    assert.equal(ref.errorOffset, good.length, what);
    // A bad header is an error even before its payload arrives.
    const { ref: early } = decodeAll(buf.subarray(0, good.length + FRAME_HEADER_SIZE), 0, DEFAULT_MAX_FRAME_SIZE);
    assert.equal(early.status, status, `${what} (header only)`);
    assert.equal(frameHeaderError(bad[0]!, bad[1]!, new DataView(bad.buffer).getUint32(2), (bad[6]! << 16) | (bad[7]! << 8) | bad[8]!, DEFAULT_MAX_FRAME_SIZE), status);
  }
  // Extension types pass with any flags and any stream, and are reported for skipping.
  const ext = build([{ type: 0xc3, flags: 0xff, streamId: MAX_STREAM_ID, length: 3 }]);
  const { ref, table } = decodeAll(ext, 0, DEFAULT_MAX_FRAME_SIZE);
  assert.equal(ref.status, FrameStatus.OK);
  assert.deepEqual([table.type(0), table.flags(0), table.streamId(0)], [0xc3, 0xff, MAX_STREAM_ID]);
});

// Values on and around every rule's boundary: random bytes almost never hit these.
const edgeType = fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 0x7f, 0x80, 0xff), fc.integer({ min: 0, max: 255 }));
const edgeFlags = fc.oneof(fc.constantFrom(0, 0, 0, 1, 2, 0x80, 0xff), fc.integer({ min: 0, max: 255 }));
const edgeStream = fc.oneof(fc.constantFrom(0, 0, 1, 2, MAX_STREAM_ID, 0x80000000, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));
const edgeLength = (maxFrame: number) =>
  fc.oneof(fc.constantFrom(0, 1, 3, 4, 5, 7, 8, 9, 511, 512, 513, maxFrame, maxFrame + 1), fc.integer({ min: 0, max: MAX_FRAME_SIZE_HARD_CAP }));
const edgeHeader = fc.record({ type: edgeType, flags: edgeFlags, streamId: edgeStream, length: edgeLength(DEFAULT_MAX_FRAME_SIZE) });

test('headers on the rules\' boundaries: kernels, JS rules and reference rules agree', () => {
  fc.assert(
    fc.property(edgeHeader, ({ type, flags, streamId, length }) => {
      assert.equal(frameHeaderError(type, flags, streamId, length, DEFAULT_MAX_FRAME_SIZE), frameHeaderErrorReference(type, flags, streamId, length, DEFAULT_MAX_FRAME_SIZE));
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.array(specArb(100), { maxLength: 3 }), fc.array(edgeHeader, { minLength: 1, maxLength: 4 }), (good, edges) => {
      const parts = [build(good), ...edges.map((h) => rawHeader(h.type, h.flags, h.streamId, h.length))];
      const buf = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        buf.set(p, at);
        at += p.length;
      }
      decodeAll(buf, 0, DEFAULT_MAX_FRAME_SIZE);
    }),
    { numRuns: 1500 },
  );
});

test('the batch encoder refuses a frame the decoder would reject and names it', () => {
  const table = new FrameTable(4).set(0, FrameType.DATA, 0, 1, 10).set(1, FrameType.PING, 0, 0, 8).set(2, FrameType.PING, 0, 9, 8);
  for (const k of kernels) {
    assert.throws(
      () => k.encodeFrameHeadersInto(table, 0, 3, new Uint8Array(27), 0),
      (e: unknown) => e instanceof WeftError && e.code === 'WEFT-K004' && e.details.index === 2 && e.details.status === FrameStatus.BAD_STREAM,
    );
  }
  assert.throws(() => encodeFrameHeadersReference(table, 0, 3, new Uint8Array(27), 0), (e: unknown) => e instanceof WeftError && e.details.index === 2);
  table.words[4 * 3 + 3] = 0x1000000; // length past the 24-bit field
  table.words[4 * 3] = FrameType.DATA;
  table.words[4 * 3 + 1] = 1;
  for (const k of kernels) {
    assert.throws(() => k.encodeFrameHeadersInto(table, 3, 1, new Uint8Array(9), 0), (e: unknown) => e instanceof WeftError && e.details.status === FrameStatus.TOO_LARGE);
  }
  assert.throws(() => encodeFrameHeaderInto(new Uint8Array(9), 0, FrameType.FIN, 0, 1, 1), (e: unknown) => e instanceof WeftError && e.code === 'WEFT-K004');
});

test('programmer errors throw WEFT-K003; hostile bytes never grow or trap the kernel', () => {
  const t = new FrameTable(8);
  const isK003 = (e: unknown) => e instanceof WeftError && e.code === 'WEFT-K003';
  for (const k of kernels) {
    assert.throws(() => k.decodeFramesInto(new Uint8Array(10), 11, DEFAULT_MAX_FRAME_SIZE, t), isK003);
    assert.throws(() => k.decodeFramesInto(new Uint8Array(10), 0, 511, t), isK003);
    assert.throws(() => k.decodeFramesInto(new Uint8Array(10), 0, MAX_FRAME_SIZE_HARD_CAP + 1, t), isK003);
    assert.throws(() => k.decodeInputInto(k.inputCapacity + 1, DEFAULT_MAX_FRAME_SIZE, t), isK003);
    assert.throws(() => k.encodeFrameHeadersInto(t, 4, 5, new Uint8Array(100), 0), isK003);
    assert.throws(() => k.encodeFrameHeadersInto(t, 0, 2, new Uint8Array(17), 0), isK003);
  }
  assert.throws(() => encodeFrameHeaderInto(new Uint8Array(8), 0, FrameType.FIN, 0, 1, 0), isK003);
  assert.throws(() => encodeFrameHeaderInto(new Uint8Array(9), 0, FrameType.FIN, 0, -1, 0), isK003);
  assert.throws(() => new FrameTable(0), isK003);

  for (const k of kernels) {
    const memory = (k as unknown as { bytes: Uint8Array }).bytes.buffer;
    const before = memory.byteLength;
    const hostile = new Uint8Array(200_000);
    for (let i = 0; i < hostile.length; i++) hostile[i] = (i * 2654435761) >>> 24;
    for (let off = 0; off < 64; off++) k.decodeFramesInto(hostile, off, MAX_FRAME_SIZE_HARD_CAP, t);
    k.decodeFramesInto(new Uint8Array(200_000).fill(0x80), 0, MAX_FRAME_SIZE_HARD_CAP, t);
    assert.equal(memory.byteLength, before);
  }
});

test('decodeInputInto decodes bytes written straight into the kernel window', () => {
  const specs: Spec[] = [
    { type: FrameType.OPEN, flags: 0, streamId: 3, length: 20 },
    { type: FrameType.DATA, flags: 0, streamId: 3, length: 100 },
    { type: FrameType.WINDOW_UPDATE, flags: 0, streamId: 0, length: 4 },
  ];
  const buf = build(specs);
  const { ref, table } = decodeAll(buf, 0, DEFAULT_MAX_FRAME_SIZE);
  for (const k of kernels) {
    k.input.set(buf);
    const t = new FrameTable(8);
    assert.deepEqual({ ...k.decodeInputInto(buf.length - 3, DEFAULT_MAX_FRAME_SIZE, t) }, { ...ref, status: FrameStatus.NEED_MORE, frames: 2, consumed: 9 + 20 + 9 + 100, needed: 3 });
    assert.deepEqual(Array.from(t.words.subarray(0, 8)), Array.from(table.words.subarray(0, 8)));
  }
});

test('convenience forms: encodeFrame and decodeFrames', () => {
  const payload = new TextEncoder().encode('hello');
  const buf = new Uint8Array([...encodeFrame(FrameType.DATA, FrameFlag.FIN, 42, payload), ...encodeFrame(FrameType.FIN, 0, 43), 0x00, 0x00]);
  const r = decodeFrames(buf);
  assert.equal(r.status, FrameStatus.NEED_MORE);
  assert.equal(r.needed, FRAME_HEADER_SIZE - 2);
  assert.deepEqual(
    r.frames.map((f) => [f.type, f.flags, f.streamId, Buffer.from(f.payload).toString()]),
    [
      [FrameType.DATA, FrameFlag.FIN, 42, 'hello'],
      [FrameType.FIN, 0, 43, ''],
    ],
  );
  // Past one table's worth of frames the convenience form keeps going.
  const many = build(Array.from({ length: 600 }, (_, i) => ({ type: FrameType.RST, flags: 0, streamId: i + 1, length: 4 })));
  const all = decodeFrames(many);
  assert.equal(all.status, FrameStatus.OK);
  assert.equal(all.frames.length, 600);
  assert.equal(all.frames[599]!.streamId, 600);
});

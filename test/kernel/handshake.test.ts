// Client handshake: every code the parser produces, resumption over any chunking, the
// batch entry, and both kernel variants against the plain-TypeScript reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  HANDSHAKE_VERSION,
  HandshakeBatchStatus,
  HandshakeKernel,
  HandshakeParser,
  HandshakeTable,
  MAX_SERVICE_ID_LENGTH,
  NEED_MORE,
  ReplyCode,
  encodeReply,
  encodeRequest,
  parseServiceId,
} from '../../src/kernel/handshake.js';
import { ReferenceHandshakeParser, parseRequestsReference, validateServiceIdReference } from '../../src/kernel/handshake-reference.js';
import { simdSupported, type KernelVariant } from '../../src/kernel/load.js';
import { WeftError } from '../../src/errors.js';

const variants: KernelVariant[] = simdSupported() ? ['simd', 'scalar'] : ['scalar'];
const kernels = variants.map((v) => HandshakeKernel.load(v));

const bytesOf = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
/** A request for raw ID bytes (any bytes, any length byte). */
function request(id: Uint8Array, version = HANDSHAKE_VERSION, length = id.length): Uint8Array {
  return Uint8Array.of(version, length, ...id);
}

interface Outcome {
  code: number;
  serviceId: string;
  rest: number[];
}

/** Feeds chunks until a final code; every parser must agree. */
function runAll(chunks: Uint8Array[]): Outcome {
  const parsers = [new ReferenceHandshakeParser(), ...kernels.map((k) => new HandshakeParser(k))];
  const outcomes = parsers.map((p) => {
    let code = NEED_MORE;
    for (const c of chunks) {
      code = p.push(c);
      if (code !== NEED_MORE) break;
    }
    return { code, serviceId: p.serviceId, rest: Array.from(p.rest) };
  });
  for (const o of outcomes.slice(1)) assert.deepEqual(o, outcomes[0]);
  return outcomes[0]!;
}

/** Splits bytes at the given cut fractions. */
function chunk(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out;
}

const MALFORMED_IDS: [string, Uint8Array][] = [
  ['empty first label', bytesOf('.shop.prod')],
  ['empty middle label', bytesOf('web..prod')],
  ['empty last label', bytesOf('web.shop.')],
  ['label of 64', bytesOf(`${'a'.repeat(64)}.shop.prod`)],
  ['last label of 64', bytesOf(`web.shop.${'n'.repeat(64)}`)],
  ['uppercase', bytesOf('Web.shop.prod')],
  ['uppercase at the end', bytesOf('web.shop.proD')],
  ['leading hyphen', bytesOf('-web.shop.prod')],
  ['trailing hyphen', bytesOf('web-.shop.prod')],
  ['hyphen after a dot', bytesOf('web.-shop.prod')],
  ['hyphen at the end', bytesOf('web.shop.prod-')],
  ['two labels', bytesOf('web.shop')],
  ['one label', bytesOf('web')],
  ['four labels', bytesOf('web.shop.prod.eu')],
  ['non-ASCII', Uint8Array.of(...bytesOf('caf'), 0xc3, 0xa9, ...bytesOf('.shop.prod'))],
  ['byte 0x80', Uint8Array.of(0x80, ...bytesOf('.b.c'))],
  ['NUL inside', Uint8Array.of(...bytesOf('web'), 0, ...bytesOf('.shop.prod'))],
  ['NUL at the end', Uint8Array.of(...bytesOf('web.shop.prod'), 0)],
  ['underscore', bytesOf('my_svc.shop.prod')],
  ['space', bytesOf('web.shop.prod ')],
  ['just dots', bytesOf('..')],
];

test('OK: a well-formed request, its service ID, and the bytes after it kept in rest', () => {
  const o = runAll([Uint8Array.of(...encodeRequest('web.shop.prod'), 0x47, 0x45, 0x54)]);
  assert.deepEqual(o, { code: ReplyCode.OK, serviceId: 'web.shop.prod', rest: [0x47, 0x45, 0x54] });
  for (const id of ['a.b.c', '0.1.2', 'a-b.c-d.e-f', 'x1--y.m.n', `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}`]) {
    assert.deepEqual(runAll([encodeRequest(id)]), { code: ReplyCode.OK, serviceId: id, rest: [] }, id);
  }
});

test('UNSUPPORTED_VERSION is decided on the first byte', () => {
  for (const v of [0, 2, 0xff]) {
    assert.deepEqual(runAll([Uint8Array.of(v)]), { code: ReplyCode.UNSUPPORTED_VERSION, serviceId: '', rest: [] });
    assert.deepEqual(runAll([Uint8Array.of(v, 5, 1, 2)]), { code: ReplyCode.UNSUPPORTED_VERSION, serviceId: '', rest: [5, 1, 2] });
  }
});

test('MALFORMED: length 0 (decided on the second byte) and every kind of bad label', () => {
  assert.deepEqual(runAll([Uint8Array.of(1), Uint8Array.of(0)]), { code: ReplyCode.MALFORMED, serviceId: '', rest: [] });
  assert.deepEqual(runAll([Uint8Array.of(1, 0, 9, 9)]), { code: ReplyCode.MALFORMED, serviceId: '', rest: [9, 9] });
  for (const [what, id] of MALFORMED_IDS) {
    assert.deepEqual(runAll([request(id)]), { code: ReplyCode.MALFORMED, serviceId: '', rest: [] }, what);
    for (const k of kernels) assert.equal(k.validateServiceId(id, 0, id.length), ReplyCode.MALFORMED, `${k.variant}: ${what}`);
    assert.equal(validateServiceIdReference(id, 0, id.length), ReplyCode.MALFORMED, what);
    assert.equal(parseServiceId(String.fromCharCode(...id)), null, what);
  }
});

test('a request split into single bytes, a decision only on the last ID byte', () => {
  const req = Uint8Array.of(...encodeRequest('api.billing.team-a'), 7, 8);
  const p = new HandshakeParser(kernels[0]);
  const r = new ReferenceHandshakeParser();
  const idEnd = req.length - 2;
  for (let i = 0; i < idEnd; i++) {
    const code = p.push(req.subarray(i, i + 1));
    assert.equal(r.push(req.subarray(i, i + 1)), code);
    assert.equal(code, i === idEnd - 1 ? ReplyCode.OK : NEED_MORE, `byte ${i}`);
  }
  assert.equal(p.serviceId, 'api.billing.team-a');
  assert.equal(p.rest.length, 0);
  // Final: later pushes consume nothing and change nothing.
  assert.equal(p.push(Uint8Array.of(7, 8)), ReplyCode.OK);
  assert.equal(p.rest.length, 0);
  // Empty chunks are harmless at any point.
  p.reset();
  assert.equal(p.push(new Uint8Array(0)), NEED_MORE);
  assert.equal(p.push(req.subarray(0, 5)), NEED_MORE);
  assert.equal(p.push(new Uint8Array(0)), NEED_MORE);
  assert.equal(p.push(req.subarray(5)), ReplyCode.OK);
  assert.deepEqual(Array.from(p.rest), [7, 8]);
});

test('the longest IDs: 191 bytes of three 63-byte labels is OK; 255-byte IDs parse whole, split or not', () => {
  const longest = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}`;
  assert.equal(longest.length, 191);
  assert.equal(runAll(chunk(encodeRequest(longest), [0.3, 0.31, 0.9])).code, ReplyCode.OK);
  // Three labels cannot fill 255 bytes within 63 per label, four can: both are MALFORMED,
  // but only after all 255 bytes have arrived.
  const fourLabels = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`;
  const longLabel = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(127)}`;
  for (const id of [fourLabels, longLabel]) {
    assert.equal(id.length, MAX_SERVICE_ID_LENGTH);
    const req = Uint8Array.of(...encodeRequest(id), 42);
    const singles = Array.from(req, (b) => Uint8Array.of(b));
    const p = new HandshakeParser(kernels[0]);
    for (let i = 0; i < 2 + 254; i++) assert.equal(p.push(singles[i]!), NEED_MORE);
    assert.equal(p.push(singles[256]!), ReplyCode.MALFORMED);
    assert.deepEqual(runAll([req]), { code: ReplyCode.MALFORMED, serviceId: '', rest: [42] });
  }
  assert.throws(() => encodeRequest('a'.repeat(256)), (e: unknown) => e instanceof WeftError && e.code === 'WEFT-K003');
});

const LOWER = 'abcdefghijklmnopqrstuvwxyz0123456789';
const labelArb = (max: number) =>
  fc
    .tuple(fc.integer({ min: 1, max }), fc.array(fc.constantFrom(...LOWER, '-'), { minLength: max, maxLength: max }), fc.constantFrom(...LOWER), fc.constantFrom(...LOWER))
    .map(([n, mid, a, z]) => (n === 1 ? a : a + mid.slice(0, n - 2).join('') + z));
const validIdArb = fc.tuple(labelArb(63), labelArb(63), labelArb(63)).map((l) => l.join('.'));
/** Labels around the 63-byte limit. */
const edgeLabelIdArb = fc
  .tuple(labelArb(65).filter((l) => l.length >= 60), labelArb(65), labelArb(65).filter((l) => l.length >= 60))
  .map((l) => l.join('.'));
const NASTY = [0x41, 0x5a, 0x2d, 0x2e, 0x00, 0x80, 0xff, 0x5f, 0x20, 0x2f, 0x3a, 0x60, 0x7b];
/** Valid IDs with small damage: a byte replaced, inserted or deleted, a label stretched. */
const nearValidIdArb = fc
  .tuple(validIdArb, fc.nat(), fc.constantFrom(...NASTY), fc.integer({ min: 0, max: 4 }))
  .map(([id, at, b, how]) => {
    const bytes = Array.from(bytesOf(id));
    const i = at % bytes.length;
    if (how === 0) bytes[i] = b;
    else if (how === 1) bytes.splice(i, 0, b);
    else if (how === 2) bytes.splice(i, 1);
    else if (how === 3) bytes.splice(i, 0, ...bytesOf('a'.repeat(64)));
    return Uint8Array.from(bytes.slice(0, 255));
  });
const anyIdArb = fc.oneof(
  validIdArb.map(bytesOf),
  edgeLabelIdArb.map(bytesOf),
  nearValidIdArb,
  fc.uint8Array({ minLength: 0, maxLength: 255 }),
  fc.array(fc.constantFrom(...bytesOf('ab-.'), 0x41), { maxLength: 80 }).map((a) => Uint8Array.from(a)),
);

test('property: kernels (simd, scalar) agree with the reference and the regex over any ID', () => {
  fc.assert(
    fc.property(anyIdArb, (id) => {
      const ref = validateServiceIdReference(id, 0, id.length);
      for (const k of kernels) assert.equal(k.validateServiceId(id, 0, id.length), ref, k.variant);
      const text = String.fromCharCode(...id);
      if (id.length >= 1) assert.equal(parseServiceId(text) === null ? ReplyCode.MALFORMED : ReplyCode.OK, ref);
    }),
    { numRuns: 3000 },
  );
});

test('property: any request under any chunking gives the same code, ID and rest', () => {
  const requestArb = fc.oneof(
    { weight: 6, arbitrary: anyIdArb.filter((id) => id.length > 0).map((id) => request(id)) },
    anyIdArb.map((id) => request(id, HANDSHAKE_VERSION, Math.min(255, id.length + 1))), // claims a byte more
    anyIdArb.map((id) => request(id, HANDSHAKE_VERSION, Math.max(0, id.length - 1))), // claims a byte less
    fc.uint8Array({ maxLength: 300 }), // garbage
  );
  fc.assert(
    fc.property(requestArb, fc.uint8Array({ maxLength: 20 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }), (req, trailing, cuts) => {
      const bytes = Uint8Array.of(...req, ...trailing);
      const o = runAll(chunk(bytes, cuts));
      // Whole-request cross-check with the regex on the decoded ID.
      if (o.code === ReplyCode.OK) {
        assert.notEqual(parseServiceId(o.serviceId), null);
        assert.equal(bytes[0], HANDSHAKE_VERSION);
        assert.equal(bytes[1], o.serviceId.length);
      }
      if (bytes.length > 0 && bytes[0] !== HANDSHAKE_VERSION) assert.equal(o.code, ReplyCode.UNSUPPORTED_VERSION);
    }),
    { numRuns: 1500 },
  );
});

/** Batch parse with every implementation; asserts agreement and returns the reference. */
function batchAll(buf: Uint8Array, offset: number, capacity = 40000) {
  const t = new HandshakeTable(capacity);
  const ref = { ...parseRequestsReference(buf, offset, t) };
  const words = Array.from(t.words.subarray(0, ref.requests * 3));
  for (const k of kernels) {
    const kt = new HandshakeTable(capacity);
    assert.deepEqual({ ...k.parseRequestsInto(buf, offset, kt) }, ref, k.variant);
    assert.deepEqual(Array.from(kt.words.subarray(0, ref.requests * 3)), words, k.variant);
  }
  return { ref, table: t };
}

test('batch: packed requests give per-request codes and ID offsets; kernels agree with the reference', () => {
  const buf = Uint8Array.of(...encodeRequest('web.shop.prod'), 1, 0, ...request(bytesOf('Bad.shop.prod')), ...encodeRequest('a.b.c'), 1, 9, 0x61);
  const { ref, table } = batchAll(buf, 0);
  assert.deepEqual(ref, { status: HandshakeBatchStatus.NEED_MORE, requests: 4, consumed: buf.length - 3 });
  assert.deepEqual(
    Array.from({ length: 4 }, (_, i) => [table.code(i), table.idOffset(i), table.idLength(i)]),
    [
      [ReplyCode.OK, 2, 13],
      [ReplyCode.MALFORMED, 17, 0],
      [ReplyCode.MALFORMED, 19, 13],
      [ReplyCode.OK, 34, 5],
    ],
  );
  const stopped = batchAll(Uint8Array.of(...encodeRequest('a.b.c'), 2, 1, 2, 3), 0);
  assert.deepEqual(stopped.ref, { status: HandshakeBatchStatus.STOPPED, requests: 2, consumed: 8 });
  assert.equal(stopped.table.code(1), ReplyCode.UNSUPPORTED_VERSION);

  fc.assert(
    fc.property(
      fc.array(fc.oneof({ weight: 5, arbitrary: anyIdArb.map((id) => request(id)) }, fc.constant(Uint8Array.of(1, 0))), { maxLength: 30 }),
      fc.uint8Array({ maxLength: 4 }),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 1, max: 40 }),
      (reqs, tail, offset, capacity) => {
        const buf = Uint8Array.from([...Array(offset).fill(7), ...reqs.flatMap((r) => Array.from(r)), ...tail]);
        const { ref } = batchAll(buf, offset, capacity);
        if (ref.status === HandshakeBatchStatus.TABLE_FULL) assert.equal(ref.requests, capacity);
      },
    ),
    { numRuns: 400 },
  );
});

test('batch over more than one kernel window (64 KiB)', () => {
  const reqs: number[] = [];
  let i = 0;
  while (reqs.length < 200_000) reqs.push(...encodeRequest(`svc${i++ % 1000}.meshlet-${i % 7}.ns`));
  const buf = Uint8Array.from(reqs.slice(0, 200_000)); // ends mid-request
  const { ref } = batchAll(buf, 0);
  assert.equal(ref.status, HandshakeBatchStatus.NEED_MORE);
  assert.ok(ref.requests > 8000);
});

test('hostile input never grows kernel memory; programmer errors throw WEFT-K003', () => {
  for (const k of kernels) {
    const memory = (k as unknown as { bytes: Uint8Array }).bytes.buffer;
    const before = memory.byteLength;
    const hostile = new Uint8Array(150_000);
    for (let i = 0; i < hostile.length; i++) hostile[i] = i % 3 === 0 ? 1 : (i * 2654435761) >>> 24;
    batchAll(hostile, 0);
    const p = new HandshakeParser(k);
    for (let off = 0; off < 300; off++) {
      p.reset();
      p.push(hostile.subarray(off, off + 300));
    }
    assert.equal(memory.byteLength, before);
    assert.throws(() => k.validateServiceId(new Uint8Array(4), 2, 3), (e: unknown) => e instanceof WeftError && e.code === 'WEFT-K003');
    assert.throws(() => k.parseRequestsInto(new Uint8Array(4), 5, new HandshakeTable(1)), (e: unknown) => e instanceof WeftError && e.code === 'WEFT-K003');
  }
});

test('encodeRequest, encodeReply and parseServiceId', () => {
  assert.deepEqual(Array.from(encodeRequest('a.b.c')), [1, 5, 0x61, 0x2e, 0x62, 0x2e, 0x63]);
  assert.deepEqual(Array.from(encodeReply(ReplyCode.OVERLOADED)), [1, 7]);
  assert.deepEqual(Array.from(encodeReply(ReplyCode.INTERNAL)), [1, 255]);
  assert.deepEqual(parseServiceId('web.shop.prod'), { service: 'web', meshlet: 'shop', namespace: 'prod' });
  assert.equal(parseServiceId('web.shop.prod\n'), null);
  assert.equal(parseServiceId(''), null);
  assert.throws(() => encodeRequest(''), WeftError);
  assert.throws(() => encodeRequest('é.b.c'), WeftError);
});

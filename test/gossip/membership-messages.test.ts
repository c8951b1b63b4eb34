import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MessageType,
  MAX_META_BYTES,
  decodeMessage,
  decodePacket,
  decodePushPull,
  decodeRequestHeader,
  encodeMessage,
  encodePacket,
  encodePushPull,
  encodeRequest,
  isValidId,
  splitPushPull,
  type MembershipMessage,
  type PushPullState,
} from '../../src/gossip/messages.js';

const id = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b).toString('hex'));
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const str = fc.string({ maxLength: 60 });
const addr = fc.string({ minLength: 1, maxLength: 60 });
const meta = fc.uint8Array({ maxLength: MAX_META_BYTES });

const message: fc.Arbitrary<MembershipMessage> = fc.oneof(
  fc.record({ type: fc.constant(MessageType.Ping as const), seq: u32, targetId: id }),
  fc.record({ type: fc.constant(MessageType.PingReq as const), seq: u32, targetId: id, targetAddress: addr, wantNack: fc.boolean() }),
  fc.record({ type: fc.constant(MessageType.Ack as const), seq: u32 }),
  fc.record({ type: fc.constant(MessageType.Nack as const), seq: u32 }),
  fc.record({ type: fc.constant(MessageType.Alive as const), id, incarnation: u32, name: str, address: addr, meta }),
  fc.record({ type: fc.constant(MessageType.Suspect as const), id, incarnation: u32, from: id }),
  fc.record({ type: fc.constant(MessageType.Dead as const), id, incarnation: u32, from: id }),
  fc.record({ type: fc.constant(MessageType.User as const), data: fc.uint8Array({ maxLength: 300 }) }),
  fc.record({ type: fc.constant(MessageType.Digest as const), count: u32, hash: u32 }),
);

const state: fc.Arbitrary<PushPullState> = fc.record({
  id,
  name: str,
  address: addr,
  incarnation: u32,
  state: fc.constantFrom('alive', 'suspect', 'dead', 'left'),
  meta,
});

/** Decoded fields compare as plain values (typed arrays by content). */
function plain(x: unknown): unknown {
  return JSON.parse(JSON.stringify(x, (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v)));
}

test('every message round-trips through encode/decode', () => {
  fc.assert(
    fc.property(message, (m) => {
      const b = encodeMessage(m);
      const r = decodeMessage(b, 0, b.length);
      assert.ok(r.ok, !r.ok ? r.error : '');
      assert.deepEqual(plain(r.value), plain(m));
    }),
    { numRuns: 2000 },
  );
});

test('compound packets carry several messages and the sender id', () => {
  fc.assert(
    fc.property(id, fc.array(message, { minLength: 1, maxLength: 20 }), (sender, msgs) => {
      const p = encodePacket(sender, msgs.map(encodeMessage));
      const r = decodePacket(p);
      assert.ok(r.ok);
      assert.equal(r.value.senderId, sender);
      assert.deepEqual(plain(r.value.messages), plain(msgs));
    }),
    { numRuns: 500 },
  );
});

test('push-pull tables round-trip, including user state', () => {
  fc.assert(
    fc.property(fc.boolean(), fc.array(state, { maxLength: 30 }), fc.uint8Array({ maxLength: 500 }), (join, members, userState) => {
      const b = encodePushPull({ join, members, userState });
      const r = decodePushPull(b);
      assert.ok(r.ok, !r.ok ? r.error : '');
      assert.deepEqual(plain(r.value), plain({ type: MessageType.PushPull, join, members, userState }));
    }),
    { numRuns: 300 },
  );
});

test('every truncation of a valid packet or push-pull is rejected, never thrown', () => {
  fc.assert(
    fc.property(id, fc.array(message, { minLength: 1, maxLength: 5 }), (sender, msgs) => {
      const p = encodePacket(sender, msgs.map(encodeMessage));
      for (let n = 0; n < p.length; n++) assert.equal(decodePacket(p.subarray(0, n)).ok, false);
      const extended = new Uint8Array(p.length + 1);
      extended.set(p);
      assert.equal(decodePacket(extended).ok, false, 'trailing bytes');
    }),
    { numRuns: 200 },
  );
  fc.assert(
    fc.property(fc.array(state, { minLength: 1, maxLength: 5 }), (members) => {
      const b = encodePushPull({ join: false, members, userState: new Uint8Array([1, 2, 3]) });
      for (let n = 0; n < b.length; n++) assert.equal(splitPushPull(b.subarray(0, n)).ok, false);
    }),
    { numRuns: 200 },
  );
});

test('random and mutated bytes never throw and never decode past the end', () => {
  const valid = encodePacket('0011223344556677', [
    encodeMessage({ type: MessageType.Alive, id: '8899aabbccddeeff', incarnation: 7, name: 'n', address: '10.0.0.1:7946', meta: new Uint8Array(4) }),
    encodeMessage({ type: MessageType.Ping, seq: 1, targetId: '8899aabbccddeeff' }),
  ]);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => {
      decodePacket(b);
      splitPushPull(b);
      decodeRequestHeader(b);
      decodeMessage(b, 0, b.length);
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (edits) => {
      const b = valid.slice();
      for (const [i, v] of edits) b[i] = v;
      const r = decodePacket(b);
      if (r.ok) for (const m of r.value.messages) assert.ok(m.type >= MessageType.Ping && m.type <= MessageType.User);
    }),
    { numRuns: 3000 },
  );
});

test('hostile lengths and counts are refused', () => {
  // A push-pull claiming 2^32-1 members in 10 bytes.
  const b = new Uint8Array([MessageType.PushPull, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
  const r = splitPushPull(b);
  assert.equal(r.ok, false);
  // Metadata length over the limit inside an alive.
  const alive = encodeMessage({ type: MessageType.Alive, id: '0011223344556677', incarnation: 1, name: '', address: 'a:1', meta: new Uint8Array(1) });
  alive[alive.length - 3] = 0xff;
  assert.equal(decodeMessage(alive, 0, alive.length).ok, false);
  // Reserved flag bits and unknown types.
  const req = encodeMessage({ type: MessageType.PingReq, seq: 1, targetId: '0011223344556677', targetAddress: 'a:1', wantNack: true });
  req[req.length - 1] = 2;
  assert.equal(decodeMessage(req, 0, req.length).ok, false);
  assert.equal(decodeMessage(new Uint8Array([99, 1, 2]), 0, 3).ok, false);
  // A digest is exactly 9 bytes: short or padded ones are refused.
  const digest = encodeMessage({ type: MessageType.Digest, count: 3, hash: 0xdeadbeef });
  assert.equal(digest.length, 9);
  assert.equal(decodeMessage(digest, 0, 8).ok, false);
  assert.equal(decodeMessage(new Uint8Array([...digest, 0]), 0, 10).ok, false);
  assert.equal(decodePacket(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 3])).ok, false, 'unknown wire version');
  // Header-only request.
  assert.equal(decodeRequestHeader(encodeRequest('0011223344556677', new Uint8Array(0))).ok, false);
});

test('encoders refuse oversized fields (programmer errors)', () => {
  assert.throws(() => encodeMessage({ type: MessageType.Alive, id: '0011223344556677', incarnation: 1, name: 'x'.repeat(256), address: 'a:1', meta: new Uint8Array(0) }), RangeError);
  assert.throws(() => encodeMessage({ type: MessageType.Alive, id: '0011223344556677', incarnation: 1, name: '', address: 'a:1', meta: new Uint8Array(MAX_META_BYTES + 1) }), RangeError);
  assert.equal(isValidId('0011223344556677'), true);
  assert.equal(isValidId('0011223344556677aa'), false);
  assert.equal(isValidId('001122334455667G'), false);
});

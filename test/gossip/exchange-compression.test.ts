// Compressed push-pull exchanges: the deflate helpers on truncated, oversized,
// malformed and hostile input; SecureTransport compressing large requests and
// (only then) their replies, refusing decompression bombs with WEFT-G103; the
// fallback to an uncompressed request for a peer that cannot read version 2
// (real TCP); and a GossipNode that refuses a sealed bomb and loses nothing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { DEFAULT_MAX_INFLATED_BYTES, deflatePayload, inflatePayload } from '../../src/gossip/exchange-compression.js';
import { Keyring } from '../../src/gossip/keyring.js';
import { GossipNode } from '../../src/gossip/node.js';
import { NONCE_BYTES, SEAL_VERSION, SEAL_VERSION_COMPRESSED, SecureTransport, open, seal } from '../../src/gossip/secure-transport.js';
import { UdpTransport } from '../../src/gossip/udp-transport.js';
import { WeftError } from '../../src/errors.js';
import { ManualClock, MemoryNetwork } from './_memory-transport.js';

const SECRET = 'compression test secret, 32 b!!';
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
/** A member-table-like payload: redundant text, as a push-pull is. */
const table = (n: number): Uint8Array => enc(Array.from({ length: n }, (_, i) => `member-${i}\u0000127.0.0.1:${40000 + i}\u0000work.bench.default\u0000v1;`).join(''));
/** 50 MB of zeros deflated: about 48 KB that would inflate 1000-fold. */
const bomb = (): Uint8Array => new Uint8Array(deflateRawSync(Buffer.alloc(50_000_000)));
const isG103 = (e: unknown): boolean => e instanceof WeftError && e.code === 'WEFT-G103';

describe('deflatePayload / inflatePayload', () => {
  test('round trip; incompressible input is left alone', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.boolean(), (random, redundant) => {
        const payload = redundant ? table(random.length % 40) : random;
        const d = deflatePayload(payload);
        if (d === null) return true; // would not have been smaller
        assert.ok(d.length < payload.length);
        const r = inflatePayload(d, DEFAULT_MAX_INFLATED_BYTES);
        return r.ok && Buffer.from(r.payload).equals(Buffer.from(payload));
      }),
    );
    assert.equal(deflatePayload(crypto.getRandomValues(new Uint8Array(1000))), null);
    assert.ok(deflatePayload(table(100))!.length * 4 < table(100).length);
  });

  test('exactly the limit inflates; one byte more is refused as too large', () => {
    const payload = table(50);
    const d = deflatePayload(payload)!;
    assert.equal(inflatePayload(d, payload.length).ok, true);
    const r = inflatePayload(d, payload.length - 1);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.reason, 'too-large');
  });

  test('a decompression bomb stops at the limit', () => {
    const r = inflatePayload(bomb(), 1 << 20);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.reason, 'too-large');
      assert.match(r.error, /inflates past the 1048576-byte limit/);
    }
  });

  test('truncated, trailing, empty and random bytes are refused as malformed, never thrown', () => {
    const d = deflatePayload(table(30))!;
    for (let n = 0; n < d.length; n++) {
      const r = inflatePayload(d.subarray(0, n), DEFAULT_MAX_INFLATED_BYTES);
      assert.equal(r.ok, false, `prefix ${n}`);
      if (!r.ok) assert.equal(r.reason, 'malformed');
    }
    const trailing = new Uint8Array([...d, 0, 1]);
    const t = inflatePayload(trailing, DEFAULT_MAX_INFLATED_BYTES);
    assert.equal(t.ok, false);
    if (!t.ok) assert.match(t.error, /2 bytes after the end/);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), (bytes) => {
        const r = inflatePayload(bytes, 4096);
        return r.ok ? r.payload.length <= 4096 : r.reason === 'malformed' || r.reason === 'too-large';
      }),
    );
  });

  test('the inflated payload is a plain Uint8Array (slice copies, as decoders expect)', () => {
    const r = inflatePayload(deflatePayload(table(10))!, DEFAULT_MAX_INFLATED_BYTES);
    assert.ok(r.ok);
    if (r.ok) assert.equal(Object.getPrototypeOf(r.payload), Uint8Array.prototype);
  });
});

describe('SecureTransport compression', () => {
  function pair(aCompression?: false | { minBytes?: number; maxInflatedBytes?: number }, bCompression?: false | { minBytes?: number; maxInflatedBytes?: number }) {
    const clock = new ManualClock();
    const net = new MemoryNetwork();
    const a = new SecureTransport(net.transport('a:1'), { keyring: new Keyring([SECRET]), clock, ...(aCompression !== undefined ? { compression: aCompression } : {}) });
    const b = new SecureTransport(net.transport('b:1'), { keyring: new Keyring([SECRET]), clock, ...(bCompression !== undefined ? { compression: bCompression } : {}) });
    return { clock, net, a, b };
  }

  test('a large request and its reply travel compressed; a small one does not', async () => {
    const { net, a, b } = pair();
    const state = table(100);
    b.onRequest((_from, data) => (data.length > 100 ? state : enc('small reply')));
    const before = net.bytesSent;
    const reply = await a.request('b:1', state, 1000);
    assert.ok(Buffer.from(reply).equals(Buffer.from(state)));
    const wire = net.bytesSent - before;
    assert.ok(wire * 3 < 2 * state.length, `${wire} bytes on the wire for 2 × ${state.length}`);
    assert.deepEqual([a.stats.compressedOut, a.stats.compressedIn, b.stats.compressedOut, b.stats.compressedIn], [1, 1, 1, 1]);
    assert.equal(new TextDecoder().decode(await a.request('b:1', enc('tiny'), 1000)), 'small reply');
    assert.equal(a.stats.compressedOut, 1);
  });

  test('a requester that sends uncompressed gets an uncompressed reply', async () => {
    const { net, a, b } = pair(false);
    const state = table(100);
    b.onRequest(() => state);
    const before = net.bytesSent;
    assert.equal((await a.request('b:1', state, 1000)).length, state.length);
    assert.ok(net.bytesSent - before > 2 * state.length);
    assert.deepEqual([a.stats.compressedOut, b.stats.compressedOut, b.stats.compressedIn], [0, 0, 0]);
  });

  test('a sealed request that inflates past the limit is refused (WEFT-G103) before the handler sees it', async () => {
    const { clock, net, a, b } = pair(undefined, { maxInflatedBytes: 1 << 20 });
    let handled = 0;
    b.onRequest(() => {
      handled++;
      return enc('never');
    });
    // A key holder gone bad: seals a bomb by hand.
    const ring = new Keyring([SECRET]);
    const hostile = seal(ring, clock.now(), bomb(), crypto.getRandomValues(new Uint8Array(NONCE_BYTES)), undefined, SEAL_VERSION_COMPRESSED);
    const raw = net.transport('evil:1');
    await assert.rejects(raw.request('b:1', hostile, 1000), (e: unknown) => isG103(e) && /inflates past the 1048576-byte limit/.test(String(e)));
    // Truncated and trailing-garbage compressed requests likewise.
    const good = deflatePayload(table(40))!;
    for (const body of [good.subarray(0, good.length - 3), new Uint8Array([...good, 7])]) {
      const sealed = seal(ring, clock.now(), body, crypto.getRandomValues(new Uint8Array(NONCE_BYTES)), undefined, SEAL_VERSION_COMPRESSED);
      await assert.rejects(raw.request('b:1', sealed, 1000), (e: unknown) => isG103(e) && /corrupt|after the end/.test(String(e)));
    }
    assert.equal(handled, 0);
    assert.equal(b.stats.droppedCompressed, 3);
    // The transport still serves honest peers.
    b.onRequest(() => enc('fine'));
    assert.equal(new TextDecoder().decode(await a.request('b:1', table(50), 1000)), 'fine');
  });

  test('a reply bomb is refused with WEFT-G103', async () => {
    const { clock, net, a } = pair();
    const ring = new Keyring([SECRET]);
    // A hostile responder: answers any compressed request with a sealed bomb bound to it.
    net.transport('b:1').onRequest((_from, data) => {
      const nonce = data.subarray(2, 2 + NONCE_BYTES);
      return seal(ring, clock.now(), bomb(), crypto.getRandomValues(new Uint8Array(NONCE_BYTES)), nonce, SEAL_VERSION_COMPRESSED);
    });
    await assert.rejects(a.request('b:1', table(100), 1000), isG103);
    assert.equal(a.stats.droppedCompressed, 1);
  });

  test('datagrams are never compressed: a version-2 datagram is dropped as malformed', () => {
    const { clock, net, a, b } = pair();
    const got: Uint8Array[] = [];
    b.onPacket((_from, d) => got.push(d));
    a.sendPacket('b:1', table(20));
    net.deliver();
    assert.equal(got.length, 1);
    assert.equal(net.sent[0]!.data[0], SEAL_VERSION);
    const v2 = seal(new Keyring([SECRET]), clock.now(), deflatePayload(table(20))!, crypto.getRandomValues(new Uint8Array(NONCE_BYTES)), undefined, SEAL_VERSION_COMPRESSED);
    net.inject({ from: 'a:1', to: 'b:1', data: v2 });
    net.deliver();
    assert.equal(got.length, 1);
    assert.equal(b.stats.droppedMalformed, 1);
  });

  test('the version byte is authenticated: flipping 1 ↔ 2 fails to open', () => {
    const ring = new Keyring([SECRET]);
    const now = Date.now();
    const sealed = seal(ring, now, table(5), new Uint8Array(NONCE_BYTES).fill(3));
    sealed[0] = SEAL_VERSION_COMPRESSED;
    assert.deepEqual(open(ring, now, 60_000, sealed), { ok: false, reason: 'auth' });
  });
});

describe('over real TCP', () => {
  test('a peer that cannot read compressed exchanges is asked again uncompressed, and remembered', async () => {
    const ring = new Keyring([SECRET]);
    const clock = { now: () => Date.now() };
    const oldUdp = await UdpTransport.create({ host: '127.0.0.1', port: 0 });
    const newUdp = await UdpTransport.create({ host: '127.0.0.1', port: 0 });
    try {
      // An older weft: opens version 1 only, and refuses (closes on) anything else.
      let oldServed = 0;
      oldUdp.onRequest((_from, data) => {
        if (data[0] !== SEAL_VERSION) throw new Error('malformed');
        const r = open(ring, Date.now(), 60_000, data);
        if (!r.ok) throw new Error(r.reason);
        oldServed++;
        return seal(ring, Date.now(), r.payload, crypto.getRandomValues(new Uint8Array(NONCE_BYTES)), r.nonce);
      });
      const client = new SecureTransport(newUdp, { keyring: ring, clock });
      const state = table(100);
      assert.ok(Buffer.from(await client.request(oldUdp.localAddress, state, 2000)).equals(Buffer.from(state)));
      assert.equal(client.stats.plainFallbacks, 1);
      assert.equal(oldServed, 1);
      // Remembered: the next request goes uncompressed at once.
      await client.request(oldUdp.localAddress, state, 2000);
      assert.equal(client.stats.plainFallbacks, 1);
      assert.equal(oldServed, 2);
      assert.equal(client.stats.compressedOut, 1);
    } finally {
      await oldUdp.close();
      await newUdp.close();
    }
  });

  test('a GossipNode refuses a sealed bomb, keeps its table and still admits members', async () => {
    const a = await GossipNode.create({ name: 'a', bindPort: 0, secrets: [SECRET], membership: { maxPushPullBytes: 1 << 20 } });
    const nodes = [a];
    const raw = await UdpTransport.create({ host: '127.0.0.1', port: 0 });
    try {
      await a.start();
      const b = await GossipNode.create({ name: 'b', bindPort: 0, secrets: [SECRET], seeds: [a.address] });
      nodes.push(b);
      await b.start();
      await b.whenJoined();
      const before = a.members().map((m) => `${m.id}@${m.incarnation}`).sort();
      const hostile = seal(new Keyring([SECRET]), Date.now(), bomb(), crypto.getRandomValues(new Uint8Array(NONCE_BYTES)), undefined, SEAL_VERSION_COMPRESSED);
      await assert.rejects(raw.request(a.address, hostile, 2000), /closed before a response|reset before a response/);
      assert.equal(a.secure.stats.droppedCompressed, 1);
      assert.ok(a.rejectedPackets().malformed >= 1);
      assert.deepEqual(a.members().map((m) => `${m.id}@${m.incarnation}`).sort(), before);
      // And the next joiner is admitted as usual.
      const c = await GossipNode.create({ name: 'c', bindPort: 0, secrets: [SECRET], seeds: [a.address] });
      nodes.push(c);
      await c.start();
      await c.whenJoined();
      assert.equal(c.members().length, 3);
    } finally {
      await raw.close();
      for (const n of nodes.reverse()) await n.shutdown();
    }
  });
});
